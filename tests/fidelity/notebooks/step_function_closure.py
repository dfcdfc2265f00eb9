# %% [markdown]
# # A function defined in a step, reading its variables, used by later steps
# `fit_line` reads `xs` and `slope` of step `data` as globals (Python Data Science
# Handbook's `fit_and_draw`). Later steps call it: each defines it again and receives
# what it reads; `slope` is rebound by step `steeper`, and the call after it sees that.

# %% tags=["step:data"]
xs = [0.0, 1.0, 2.0, 3.0]
slope = 2.0


def line(x):
    return slope * x


def fit_line(bias):
    return [line(x) + bias for x in xs]

first = fit_line(0.5)

# %% tags=["step:again"]
second = fit_line(1.0)

# %% tags=["step:steeper"]
slope = 3.0

# %% tags=["step:last"]
third = fit_line(0.0)
