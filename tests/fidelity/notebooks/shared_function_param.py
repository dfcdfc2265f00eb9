# %% [markdown]
# # A shared function that reads a parameter
# `scale` in the functions cell reads the parameter `factor` as a global. The shared
# module cannot see it, so each step that calls `scale` defines it again and takes
# `factor` as its own parameter (run with the default and with factor=5).

# %% tags=["parameters"]
factor = 3

# %% tags=["functions"]
def scale(values):
    return [v * factor for v in values]


def total(values):
    return sum(scale(values))

# %% tags=["step:run"]
scaled = scale([1, 2, 3])

# %% tags=["step:sum"]
summed = total(scaled)
