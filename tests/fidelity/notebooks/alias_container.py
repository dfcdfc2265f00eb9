# %% [markdown]
# # Aliasing through a container
# Two inputs are put in a list and changed in a loop over that list: both are changed.

# %% tags=["imports"]
import pandas as pd

# %% tags=["step:load"]
left = pd.DataFrame({"k": [1, 2], "v": [10.0, 20.0]})
right = pd.DataFrame({"k": [1, 2], "w": [0.5, 0.25]})

# %% tags=["step:annotate"]
frames = [left, right]
for f in frames:
    f["source"] = "annotated"
lookup = {"l": left}
lookup["l"]["flag"] = True

# %% tags=["step:join"]
joined = left.merge(right, on=["k", "source"])
