# %% [markdown]
# # Derived values in the parameters cell
# `out_name` is computed from the parameters: the pipeline recomputes it from the given
# values, and verify does the same in the notebook.

# %% tags=["parameters"]
import os

root = "data"
stem = "result"
out_name = os.path.join(root, stem + ".csv")

# %% tags=["step:use"]
parts = out_name.split(os.sep)
