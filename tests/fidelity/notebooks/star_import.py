# %% [markdown]
# # Star imports
# Names come from `from math import *` and `from statistics import *`.

# %% tags=["imports"]
from math import *
from statistics import *

# %% tags=["step:compute"]
values = [1.0, 4.0, 9.0, 16.0]
roots = [sqrt(v) for v in values]
area = pi * 2**2

# %% tags=["step:summarise"]
result = (mean(roots), median(values), floor(area), ceil(e))
