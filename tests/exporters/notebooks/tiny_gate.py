# %% [markdown]
# # Tiny gate
# A small pipeline for the exporters' tests: a gate in the middle that a parameter can
# fail, parameters of every kind KFP and Airflow must carry (an optional one, a list, a
# string, a bool), Kale's resource and image tags, and a metric.

# %% tags=["imports"]
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

# %% tags=["parameters"]
min_rows = 10  # the gate: at least this many rows
max_depth: int | None = None  # depth of the tree
features = [0, 1, 2, 3]  # columns used
label = "iris"  # a name
shuffle = True  # reverse the rows first

# %% tags=["step:load", "limit:memory:1Gi", "limit:cpu:1"]
X, y = load_iris(return_X_y=True)
if shuffle:
    X, y = X[::-1], y[::-1]
X = X[:, features]

# %% tags=["validate"]
assert len(X) >= min_rows, "too few rows"

# %% tags=["step:train", "image:python:3.11-slim", "limit:nvidia.com/gpu:1"]
model = DecisionTreeClassifier(max_depth=max_depth, random_state=0)
model.fit(X, y)

# %% tags=["step:score"]
accuracy = float(model.score(X, y))
summary = f"{label}: {accuracy:.3f}"

# %% tags=["metrics"]
print(accuracy)
