# %% [markdown]
# # del
# A step deletes a key from a dict it received (mutation), deletes a temporary name,
# and deletes then redefines another name.

# %% tags=["step:make"]
table = {"a": 1, "b": 2, "c": 3}
temp = [1, 2]
name = "first"

# %% tags=["step:prune"]
del table["b"]
size = len(temp)
del temp
del name
name = "second"

# %% tags=["step:use"]
result = (sorted(table), size, name)
