# %% [markdown]
# # Gates and metrics
# A `validate` cell checks the data between steps; a `metrics` cell names results.

# %% tags=["parameters"]
min_rows = 3

# %% tags=["step:load"]
rows = [{"v": i * 1.5} for i in range(6)]

# %% tags=["validate"]
assert len(rows) >= min_rows, "too few rows"
assert all(r["v"] >= 0 for r in rows)

# %% tags=["step:score"]
mean_v = sum(r["v"] for r in rows) / len(rows)
max_v = max(r["v"] for r in rows)

# %% tags=["metrics"]
mean_v
max_v
