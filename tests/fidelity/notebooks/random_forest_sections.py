# %% [markdown]
# # One seed, two forests (issue 19.1)
# No tags: the sections are steps. `np.random.seed(0)` runs once; each forest has no
# random_state, so the second fit continues the global stream where the first stopped.

# %%
import numpy as np
from sklearn.datasets import make_regression
from sklearn.ensemble import RandomForestRegressor

np.random.seed(0)
X, y = make_regression(n_samples=60, n_features=4, random_state=0)

# %% [markdown]
# ## A

# %%
m = RandomForestRegressor(5).fit(X, y)
first = m.predict(X[:1])
print(first)

# %% [markdown]
# ## B

# %%
m = RandomForestRegressor(5).fit(X, y)
second = m.predict(X[:1])
print(second)
