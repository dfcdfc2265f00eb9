# %% [markdown]
# # Global random state seeded once in the imports cell
# `np.random.seed(0)` runs once in the notebook; two steps then draw from the global
# stream one after the other. In the notebook the second draw continues the stream.

# %% tags=["imports"]
import numpy as np

np.random.seed(0)

# %% tags=["step:first"]
a = np.random.rand(3)

# %% tags=["step:second"]
b = np.random.rand(3)
