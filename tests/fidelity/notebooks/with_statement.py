# %% [markdown]
# # with
# `with` binds names (`as`), writes and reads a file within one step, suppresses an
# error, and uses a context manager defined in the notebook.

# %% tags=["imports"]
import contextlib
import os
import tempfile

# %% tags=["step:work"]
@contextlib.contextmanager
def tracked(events):
    events.append("enter")
    yield len(events)
    events.append("exit")


events = []
with tracked(events) as depth:
    events.append(f"inside {depth}")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "data.txt")
    with open(path, "w") as fh:
        fh.write("one\ntwo\n")
    with open(path) as fh:
        lines = fh.read().splitlines()

with contextlib.suppress(KeyError):
    missing = {}["nope"]

# %% tags=["step:use"]
result = (events, lines, depth)
