# %% [markdown]
# # Data files and a worker that dies
# For the cluster executors' tests: a step reads a data file by a literal path and another
# by a path parameter (both must reach a worker whose working folder is empty), and a step
# kills its own worker process the first time it runs (while a marker file is absent).

# %% tags=["imports"]
import os
import signal

import pandas as pd

# %% tags=["parameters"]
lookup = "data/lookup.csv"  # read through a path parameter
crash_marker = ""  # when set and the file is absent: create it, then kill the worker

# %% tags=["step:load"]
table = pd.read_csv("data/table.csv")
codes = pd.read_csv(lookup)
listing = sorted(os.listdir("."))

# %% tags=["step:crash"]
if crash_marker and not os.path.exists(crash_marker):
    open(crash_marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)
doubled = table["value"] * 2

# %% tags=["step:score"]
total = float(doubled.sum() + codes["code"].sum())
rows = int(len(table))
seen = ", ".join(listing)  # what the working folder held

# %% tags=["metrics"]
print(total, rows)
