# %% [markdown]
# # A step changes a parameter
# `columns` (a list parameter) is appended to in place by one step and `scale` is
# rebound by another; later steps must see the changed values, as in the notebook.

# %% tags=["parameters"]
columns = ["a", "b"]
scale = 2

# %% tags=["step:extend"]
columns.append("c")
width = len(columns)

# %% tags=["step:rescale"]
scale = scale * 10

# %% tags=["step:use"]
result = (columns, width, scale)
