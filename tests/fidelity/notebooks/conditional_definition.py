# %% [markdown]
# # Conditional definitions
# Names and functions defined in both branches of an `if` on a parameter, a name bound
# only in one branch (with a default set earlier) and a conditional expression.

# %% tags=["parameters"]
use_square = True
threshold = 2

# %% tags=["step:define"]
label = "none"
if use_square:
    def transform(v):
        return v * v
    label = "square"
else:
    def transform(v):
        return v + 1
if threshold > 1:
    limit = threshold * 10
else:
    limit = 0
mode = "high" if limit > 10 else "low"

# %% tags=["step:apply"]
values = [transform(v) for v in range(5) if v < limit]
result = (label, limit, mode, values)
