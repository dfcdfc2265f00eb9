# %% [markdown]
# # Data at scale
#
# The notebook of issue 12: 3M rows x 18 columns loaded, features added in place, a linear
# model trained on 500k rows and scored on the rest. `benchmarks/bench_scale.py` converts it
# (changing `n_rows`) and compares `nb2pipe run` with the same cells as one plain script.

# %% tags=["imports"]
import numpy as np
import pandas as pd
from sklearn.linear_model import SGDClassifier

# %% tags=["parameters"]
n_rows = 3_000_000
seed = 0

# %% tags=["step:load"]
rng = np.random.default_rng(seed)
df = pd.DataFrame(rng.normal(size=(n_rows, 16)), columns=[f"f{i}" for i in range(16)])
df["cat"] = rng.integers(0, 50, n_rows).astype(str)
df["y"] = (df.f0 + df.f1 * 0.5 + rng.normal(size=n_rows) > 0).astype(int)

# %% tags=["step:features"]
df["f0_sq"] = df.f0**2
df["cat_code"] = df["cat"].astype("category").cat.codes
features = df.drop(columns=["cat", "y"])
target = df["y"]

# %% tags=["step:train"]
clf = SGDClassifier(random_state=seed, max_iter=5, tol=None)
clf.fit(features.iloc[:500_000], target.iloc[:500_000])

# %% tags=["step:evaluate"]
acc = float(clf.score(features.iloc[500_000:], target.iloc[500_000:]))
print(f"accuracy {acc:.4f}")

# %% tags=["metrics"]
acc  # noqa: B018 - a metrics cell names its metrics
