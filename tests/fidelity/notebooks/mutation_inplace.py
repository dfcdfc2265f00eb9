# %% [markdown]
# # inplace=True
# pandas methods called with inplace=True change the frame a step received (the
# warnings filter in the imports cell is replayed in every step).

# %% tags=["imports"]
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore", message=".*inplace.*")

# %% tags=["step:load"]
df = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": ["w", "x", "y", "z"]})

# %% tags=["step:clean"]
df.dropna(inplace=True)
df.rename(columns={"a": "value"}, inplace=True)
df.reset_index(drop=True, inplace=True)
df.sort_values("value", ascending=False, inplace=True)

# %% tags=["step:use"]
total = float(df["value"].sum())
first = df.iloc[0].to_dict()
