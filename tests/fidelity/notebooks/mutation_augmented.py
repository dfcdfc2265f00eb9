# %% [markdown]
# # Augmented assignment
# `+=` rebinds an int, extends a list in place and adds into a numpy array in place.

# %% tags=["imports"]
import numpy as np

# %% tags=["step:make"]
count = 1
names = ["a"]
arr = np.arange(4, dtype=float)

# %% tags=["step:grow"]
count += 10
names += ["b", "c"]
arr += 0.5
arr *= 2

# %% tags=["step:use"]
result = (count, names, arr.tolist())
