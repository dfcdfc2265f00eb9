# %% [markdown]
# # Kale tags and typed parameters
# `block:`/`prev:`/`pipeline-parameters`; a tuple, a dict and an optional parameter.
# The test overrides them: papermill cannot pass a tuple, so verify adds its own cell.

# %% tags=["pipeline-parameters"]
sizes = (2, 3)  # tuple of sizes
weights = {"a": 1.0, "b": 2.0}
limit: int | None = None
name = "run"

# %% tags=["block:build"]
grid = [[i * j for j in range(sizes[1])] for i in range(sizes[0])]
weighted = {k: v * 2 for k, v in weights.items()}

# %% tags=["block:use", "prev:build"]
cap = limit if limit is not None else 99
result = (type(sizes).__name__, grid, weighted, cap, name)
