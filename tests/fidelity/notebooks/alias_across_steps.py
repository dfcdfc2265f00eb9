# %% [markdown]
# # Two names for one object, changed in a later step
# `backup` is the same list as `data` (and `head` a numpy view of `arr`); a later step
# changes `data` and `arr` in place. In the notebook `backup` and `head` change too.

# %% tags=["imports"]
import numpy as np

# %% tags=["step:make"]
data = [1, 2, 3]
backup = data
arr = np.zeros(4)
head = arr[:2]

# %% tags=["step:change"]
data.append(4)
arr += 1.0

# %% tags=["step:use"]
result = (len(data), len(backup), float(arr.sum()), float(head.sum()))
