# %% [markdown]
# # Functions that mutate their argument
# A notebook function assigns into its parameter and `np.random.shuffle` shuffles in
# place: both change the step's input.

# %% tags=["imports"]
import numpy as np

# %% tags=["functions"]
def add_total(record):
    record["total"] = sum(v for k, v in record.items() if k != "total")

# %% tags=["step:make"]
record = {"a": 1, "b": 2}
order = np.arange(6)

# %% tags=["step:change"]
add_total(record)
np.random.seed(1)
np.random.shuffle(order)

# %% tags=["step:use"]
result = (record, order.tolist())
