# %% [markdown]
# # A shared function that reads a parameter
# `scale` in the functions cell reads the parameter `factor` as a global. The shared
# module cannot see the step's keyword argument, so convert refuses with a clear error.

# %% tags=["parameters"]
factor = 3

# %% tags=["functions"]
def scale(values):
    return [v * factor for v in values]

# %% tags=["step:run"]
scaled = scale([1, 2, 3])
