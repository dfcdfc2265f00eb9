# %% [markdown]
# # A fitted estimator changed by later steps
# `set_params` and a second `fit` on a step's input (known mutating methods), a
# scikit-learn Pipeline, and read-only `predict`/`score` in parallel branches.

# %% tags=["imports"]
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# %% tags=["step:data"]
X, y = load_diabetes(return_X_y=True)
X = X[:120]
y = y[:120]

# %% tags=["step:fit"]
model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
model.fit(X, y)

# %% tags=["step:refit"]
model.set_params(ridge__alpha=10.0)
model.fit(X[:80], y[:80])

# %% tags=["step:predict"]
predictions = model.predict(X[:5])

# %% tags=["step:score"]
r2 = float(model.score(X, y))
