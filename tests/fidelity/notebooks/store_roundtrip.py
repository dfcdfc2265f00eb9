# %% [markdown]
# # Values whose type must survive the artifact store
# Tuples vs lists, int dict keys, numpy scalars and float16 arrays, nullable and
# categorical pandas dtypes, a MultiIndex, integer column names, time zones, a Series
# with a tuple name, DataFrame.attrs, sets, bytes and None cross a step boundary.

# %% tags=["imports"]
import numpy as np
import pandas as pd

# %% tags=["step:make"]
pair = (1, 2.0)
nested = {"t": (1, [2, (3,)]), 1: "int key", None: "none key"}
scalar = np.float32(1.25)
small = np.arange(4, dtype=np.float16)
ints = pd.Series([1, None, 3], dtype="Int64", name=("a", 1))
cats = pd.DataFrame({"c": pd.Categorical(["x", "y", "x"]), "n": [1.5, 2.5, 3.5]})
multi = pd.DataFrame(
    {"v": [1, 2, 3, 4]},
    index=pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", "i"]),
)
numbered = pd.DataFrame({0: [1.0, 2.0], 1: ["p", "q"]})
times = pd.Series(pd.date_range("2024-01-01", periods=3, freq="D", tz="Europe/Paris"))
tagged = pd.DataFrame({"x": [1, 2]})
tagged.attrs["source"] = "notebook"
flags = {True, False}
blob = b"\x00\x01raw"
nothing = None

# %% tags=["step:use"]
kinds = [
    type(pair).__name__, sorted(map(str, nested)), type(scalar).__name__, str(small.dtype),
    str(ints.dtype), str(cats["c"].dtype), multi.index.names, list(numbered.columns),
    str(times.dt.tz), tagged.attrs, sorted(flags), len(blob), nothing,
]
