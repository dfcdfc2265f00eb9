# %% [markdown]
# # Step names that clash with other names
# Steps named `random`, `data` and `result`: a module the notebook imports, a variable
# and the name of a step's own output.

# %% tags=["imports"]
import random

# %% tags=["step:data"]
data = [random.Random(3).random() for _ in range(3)]

# %% tags=["step:random"]
rng = random.Random(1)
picked = rng.choice(data)

# %% tags=["step:result"]
result = round(picked * 100, 6)
