# %% [markdown]
# # Closures used where they are made
# A factory and its closures (one with `nonlocal` state) live in one step; only the
# results travel to the next step.

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
doubled = [double(v) for v in range(4)]
ticks = [counter() for _ in range(3)]
adders = [lambda v, i=i: v + i for i in range(3)]
added = [f(10) for f in adders]

# %% tags=["step:use"]
result = (doubled, ticks, added)
