# %% [markdown]
# # A function with `global` state used by a later step
# `record` rebinds the global `calls` defined in step `setup`; step `work` calls it.
# The step function cannot share module globals with another step: convert refuses.

# %% tags=["step:setup"]
calls = 0
log = []


def record(event):
    global calls
    calls += 1
    log.append(event)
    return calls

# %% tags=["step:work"]
record("a")
last = record("b")

# %% tags=["step:use"]
result = (calls, log, last)
