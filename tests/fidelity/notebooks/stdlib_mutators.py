# %% [markdown]
# # Standard-library functions and methods that change their argument
# heapq.heappush, bisect.insort, random.shuffle, deque.appendleft/rotate, list.reverse,
# dict.clear, setattr and ndarray.fill all change a step's input in place.

# %% tags=["imports"]
import bisect
import heapq
import random
import types
from collections import deque

import numpy as np

# %% tags=["step:make"]
heap = [5, 1, 3]
heapq.heapify(heap)
ordered = [1, 4, 9]
cards = list(range(6))
queue = deque([1, 2, 3])
letters = ["a", "b", "c"]
cache = {"k": 1}
box = types.SimpleNamespace()
grid = np.ones(3)

# %% tags=["step:change"]
heapq.heappush(heap, 0)
bisect.insort(ordered, 5)
random.Random(0).shuffle(cards)
queue.appendleft(0)
queue.rotate(1)
letters.reverse()
cache.clear()
setattr(box, "size", 3)
grid.fill(7.0)

# %% tags=["step:use"]
result = (heap, ordered, cards, list(queue), letters, cache, box.size, grid.tolist())
