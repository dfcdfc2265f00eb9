# %% [markdown]
# # Mutation by subscript
# A step assigns into a dict, a list and a DataFrame it received; the next step must see
# the changed values (the assigning step owns the new versions).

# %% tags=["imports"]
import pandas as pd

# %% tags=["step:make"]
config = {"a": 1, "b": 2}
items = [1, 2, 3]
frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})

# %% tags=["step:change"]
config["c"] = config["a"] + config["b"]
items[0] = 10
frame["y"] = frame["x"] * 2
frame.loc[0, "x"] = -1.0

# %% tags=["step:use"]
summary = (sum(config.values()), sum(items), float(frame["y"].sum()), float(frame["x"].sum()))
