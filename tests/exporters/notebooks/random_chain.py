# %% [markdown]
# # Random chain
# For the exporters' tests: numpy's global stream seeded once; `split` and `train` draw
# from it (train_test_split and a forest without random_state), so the state leaving
# `split` travels to `train` as the artifact __random_state__, across tasks and
# containers; `describe` draws nothing and runs beside them.

# %% tags=["imports"]
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split

np.random.seed(0)

# %% tags=["step:load"]
X, y = load_diabetes(return_X_y=True)

# %% tags=["step:split"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25)

# %% tags=["step:describe"]
spread = float(X.std())

# %% tags=["step:train"]
forest = RandomForestRegressor(n_estimators=5, max_depth=3).fit(X_train, y_train)
score = float(forest.score(X_test, y_test)) + spread

# %% tags=["metrics"]
print(score)
