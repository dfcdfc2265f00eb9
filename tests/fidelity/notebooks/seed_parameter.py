# %% [markdown]
# # Randomness controlled by a seed parameter
# numpy's Generator, the `random` module and a scikit-learn estimator all seeded from
# one parameter; verify also runs it with another seed.

# %% tags=["imports"]
import random

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

# %% tags=["parameters"]
seed = 0  # random seed

# %% tags=["step:sample"]
rng = np.random.default_rng(seed)
noise = rng.normal(size=5)
random.seed(seed)
picks = random.sample(range(100), 4)
X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed)

# %% tags=["step:train"]
model = RandomForestClassifier(n_estimators=5, random_state=seed).fit(X_train, y_train)
score = float(model.score(X_test, y_test))
