# %% [markdown]
# # Mutation by method call
# Known mutating methods (append, extend, sort, update, pop, setdefault, add) change a
# step's inputs; the later step must see their effect.

# %% tags=["step:make"]
numbers = [3, 1, 2]
table = {"a": 1}
seen = set()

# %% tags=["step:change"]
numbers.append(0)
numbers.extend([5, 4])
numbers.sort()
table.update({"b": 2})
table.setdefault("c", 3)
popped = table.pop("a")
seen.add("x")

# %% tags=["step:use"]
result = (numbers, sorted(table.items()), popped, sorted(seen))
