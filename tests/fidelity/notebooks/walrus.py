# %% [markdown]
# # Walrus
# `:=` in an `if`, a `while` and inside a comprehension (which binds in the enclosing
# scope, unlike the comprehension's own variable).

# %% tags=["step:make"]
data = [3, 8, 1, 9, 4]
if (n := len(data)) > 3:
    size = "big"
else:
    size = "small"
stack = list(data)
popped = []
while (top := stack.pop()) != 8:
    popped.append(top)
scaled = [last := v * 2 for v in data]

# %% tags=["step:use"]
result = (n, size, popped, top, scaled, last)
