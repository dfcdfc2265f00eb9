# %% [markdown]
# # Imports inside step cells
# A step imports a module (and an alias) that a later step uses without importing it.

# %% tags=["step:first"]
import json
from collections import Counter as Tally

encoded = json.dumps({"b": 1, "a": [1, 2]}, sort_keys=True)

# %% tags=["step:second"]
decoded = json.loads(encoded)
counts = Tally("abracadabra").most_common(2)
