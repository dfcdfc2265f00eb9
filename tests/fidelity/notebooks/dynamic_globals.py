# %% [markdown]
# # Names defined through globals()
# A step defines `dynamic` with `globals()[...] = ...`; a later step reads it. The
# analysis cannot see that definition, so convert refuses with an undefined name.

# %% tags=["step:define"]
for name, value in [("dynamic", 42)]:
    globals()[name] = value

# %% tags=["step:use"]
doubled = dynamic * 2
