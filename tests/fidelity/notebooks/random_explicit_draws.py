# %% [markdown]
# # Explicit draws from both global streams across steps
# numpy's and python's global streams, seeded once, drawn from in several steps, also
# through a shared function. A step in between draws nothing.

# %% tags=["imports"]
import random

import numpy as np

np.random.seed(7)
random.seed(7)


# %% tags=["functions"]
def noisy(values):
    return [v + float(np.random.normal()) for v in values]


# %% tags=["step:first"]
a = np.random.rand(3)
pick = random.choice(["x", "y", "z"])

# %% tags=["step:quiet"]
total = float(a.sum()) * 2

# %% tags=["step:second"]
b = noisy([1.0, 2.0])
order = list(range(6))
random.shuffle(order)

# %% tags=["step:third"]
c = np.random.randint(0, 100, size=4)
d = random.random()
