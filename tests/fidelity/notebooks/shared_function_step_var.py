# %% [markdown]
# # A shared function that reads a step's variable
# `score` in the functions cell reads `data` (made by step `load`) and `offset` (rebound by
# step `shift` after the first call) as globals, the way gallery notebooks write helpers.
# Each step that calls it defines it again; its globals are that step's inputs, read at
# call time, so the second call sees the new `offset`.

# %% tags=["step:load"]
data = [3, 1, 4, 1, 5]
offset = 0

# %% tags=["functions"]
def score(k):
    return sorted(data)[k] + offset

# %% tags=["step:first"]
first = score(0)

# %% tags=["step:shift"]
offset = 100

# %% tags=["step:second"]
second = score(-1)
