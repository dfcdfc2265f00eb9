# %% [markdown]
# # Closures
# A factory defined in one step returns closures (one with `nonlocal` state); another
# step calls them. The closures themselves are step outputs.

# %% tags=["step:make"]
def make_scaler(k):
    def scale(v):
        return v * k
    return scale


def make_counter():
    count = 0

    def bump():
        nonlocal count
        count += 1
        return count
    return bump


double = make_scaler(2)
counter = make_counter()
counter()

# %% tags=["step:use"]
doubled = [double(v) for v in range(4)]
ticks = [counter() for _ in range(3)]
