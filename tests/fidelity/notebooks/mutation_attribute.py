# %% [markdown]
# # Mutation by attribute
# An object made in one step gets attributes set in the next one, including a nested
# attribute path; a later step reads them.

# %% tags=["imports"]
import types

# %% tags=["step:make"]
state = types.SimpleNamespace(count=0, inner=types.SimpleNamespace(label="start"))

# %% tags=["step:change"]
state.count = 5
state.inner.label = "changed"
state.extra = [1, 2]

# %% tags=["step:use"]
report = f"{state.count}-{state.inner.label}-{len(state.extra)}"
