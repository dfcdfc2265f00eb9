# %% [markdown]
# # A step that reads a file another step wrote
# `write` saves a CSV next to the notebook; `read` loads it. No variable links them, so
# the order comes from the explicit `after:write` tag.

# %% tags=["imports"]
import pandas as pd

# %% tags=["parameters"]
path = "handoff.csv"

# %% tags=["step:write"]
pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]}).to_csv(path, index=False)

# %% tags=["step:read", "after:write"]
loaded = pd.read_csv(path)
total = float(loaded["b"].sum())
