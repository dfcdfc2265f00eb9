# %% [markdown]
# # A module imported inside a block of a step, used by a later step
# Step `a` imports `fractions` under an `if`; step `b` uses the module. `b` imports it
# itself instead of receiving a module object.

# %% tags=["step:a"]
n = 3
if n > 0:
    import fractions
    half = fractions.Fraction(n, 2)

# %% tags=["step:b"]
third = fractions.Fraction(n, 3)
text = str(third + half)
