# %% [markdown]
# # A variable redefined in several steps
# `x` is defined in `first`, redefined in `second` and `third`; each reader must get the
# version of the last step that wrote it before the reader.

# %% tags=["step:first"]
x = 1
y = x + 1

# %% tags=["step:second"]
x = y * 10
z = x + 1

# %% tags=["step:third"]
x = z + x
w = x

# %% tags=["step:last"]
result = (x, y, z, w)
