# %% [markdown]
# # Conditionally defined values
# A name bound in only one branch (with a default bound before), names bound in both
# branches of an `if` on a parameter, and a later step that rebinds one conditionally.

# %% tags=["parameters"]
threshold = 2
verbose = False

# %% tags=["step:define"]
label = "none"
if threshold > 1:
    limit = threshold * 10
    label = "scaled"
else:
    limit = 0
if verbose:
    label = label.upper()
mode = "high" if limit > 10 else "low"

# %% tags=["step:adjust"]
if mode == "high":
    limit = limit - 5

# %% tags=["step:use"]
result = (label, limit, mode)
