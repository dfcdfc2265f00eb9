# %% [markdown]
# # A name defined only in a skip cell
# The step reads `threshold`, which only a `skip` cell defines: the pipeline cannot have
# it, so convert refuses, naming the cell and line.

# %% tags=["skip"]
threshold = 0.5

# %% tags=["step:use"]
values = [0.2, 0.7, 0.9]
kept = [v for v in values if v > threshold]
