# %% [markdown]
# # global
# A function defined in a step rebinds a module-level counter with `global`; the same
# step calls it, a later step reads the counter and the log.

# %% tags=["step:work"]
calls = 0
log = []


def record(event):
    global calls
    calls += 1
    log.append(event)
    return calls


record("a")
record("b")
last = record("c")

# %% tags=["step:use"]
result = (calls, log, last)
