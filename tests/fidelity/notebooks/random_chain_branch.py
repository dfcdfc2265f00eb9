# %% [markdown]
# # A drawing chain and an independent branch
# `noise` and `more_noise` draw from the seeded stream; `stats` only reads the data and
# may run beside them (`-j 2`). The last step reads from both.

# %% tags=["imports"]
import numpy as np
import pandas as pd

np.random.seed(3)

# %% tags=["step:base"]
base = pd.DataFrame({"x": np.arange(20.0), "g": ["a", "b"] * 10})

# %% tags=["step:noise"]
noisy = base["x"] + np.random.normal(size=len(base))

# %% tags=["step:stats"]
means = base.groupby("g")["x"].mean()

# %% tags=["step:more_noise"]
jitter = np.random.uniform(-1, 1, size=5)
shuffled = base.sample(frac=1.0)

# %% tags=["step:combine"]
result = float(noisy.sum() + jitter.sum() + means.sum()) + float(shuffled["x"].iloc[0])
