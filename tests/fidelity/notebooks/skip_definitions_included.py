# %% [markdown]
# # Names defined only in a skip cell, kept with --include-skip-definitions
# The skip cell explores (prints, plots) and also sets `threshold` and `scale`, which the
# steps read. With the option, only those two assignments are kept (in step `load`); the
# exploration line that changes `values` is not.

# %% tags=["step:load"]
values = [0.2, 0.7, 0.9, 0.4]

# %% tags=["skip"]
values.append(100.0)
print(sorted(values))
base = 0.5
threshold = base
scale = 10

# %% tags=["step:use"]
kept = [v * scale for v in values if v > threshold]
