# %% [markdown]
# # Implicit draws across steps
# Nothing passes random_state: train_test_split, the shuffled KFold, the forest and
# pandas' sample all draw from numpy's global stream, seeded once. The data step draws
# nothing; `report` only reads the fitted model (predict and score do not draw).

# %% tags=["imports"]
import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import KFold, cross_val_score, train_test_split

np.random.seed(42)

# %% tags=["step:load"]
data = load_wine(as_frame=True)
df = data.frame

# %% tags=["step:split"]
train, test = train_test_split(df, test_size=0.3)

# %% tags=["step:train"]
features = [c for c in df.columns if c != "target"]
forest = RandomForestClassifier(n_estimators=8, max_depth=3)
forest.fit(train[features], train["target"])

# %% tags=["step:validate"]
folds = KFold(n_splits=3, shuffle=True)
cv_scores = cross_val_score(RandomForestClassifier(n_estimators=4), df[features], df["target"], cv=folds)

# %% tags=["step:report"]
accuracy = float(forest.score(test[features], test["target"]))
picked = test.sample(4)
