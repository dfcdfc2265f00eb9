# %% [markdown]
# # Imports a distribution the workers lack (tests/cluster: the environment check)

# %% tags=["imports"]
import nb2pipe_probe

# %% tags=["step:load"]
value = nb2pipe_probe.VALUE

# %% tags=["metrics"]
print(value)
