# %% [markdown]
# # A random Generator shuffling a step's input
# `np.random.default_rng(1).shuffle(order)` (numpy's Generator API, called on the
# result of a call) shuffles its argument in place, like `np.random.shuffle`: the step
# changes its input `order`.

# %% tags=["imports"]
import numpy as np

# %% tags=["step:make"]
order = np.arange(6)

# %% tags=["step:change"]
np.random.default_rng(1).shuffle(order)

# %% tags=["step:use"]
result = order.tolist()
