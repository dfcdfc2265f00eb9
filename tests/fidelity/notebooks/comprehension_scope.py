# %% [markdown]
# # Comprehension scopes
# Comprehension variables do not leak (a global `x` keeps its value), nested and
# dict/set comprehensions read outer names, a generator expression is consumed later.

# %% tags=["step:make"]
x = 100
base = 3
squares = [x * x for x in range(5)]
pairs = {k: v for k, v in zip("abc", range(3))}
nested = [[x + y for y in range(base)] for x in range(2)]
evens = {x for x in range(10) if x % 2 == 0}

# %% tags=["step:use"]
total = sum(v * base for v in pairs.values())
result = (x, squares, nested, sorted(evens), total)
