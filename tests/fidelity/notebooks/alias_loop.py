# %% [markdown]
# # Aliasing through loops and plain names
# The rows of a list of lists are changed through the loop variable; a dict is changed
# through a second name bound to it.

# %% tags=["step:make"]
rows = [[1, 2], [3, 4]]
settings = {"mode": "a"}

# %% tags=["step:change"]
for row in rows:
    row.append(sum(row))
cfg = settings
cfg["mode"] = "b"
for i, row in enumerate(rows):
    row[0] = i

# %% tags=["step:use"]
result = (rows, settings)
