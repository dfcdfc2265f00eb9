# %% [markdown]
# # Classes
# A class and a dataclass defined in a step cell; instances flow between steps and a
# method mutates one of them in a later step.

# %% tags=["imports"]
from dataclasses import dataclass, field

# %% tags=["step:define"]
class Accumulator:
    def __init__(self, start):
        self.total = start
        self.history = []

    def add(self, v):
        self.total += v
        self.history.append(v)
        return self


@dataclass
class Point:
    x: float
    y: float
    tags: list = field(default_factory=list)

    def norm2(self):
        return self.x**2 + self.y**2


acc = Accumulator(10)
points = [Point(1.0, 2.0), Point(3.0, 4.0, ["far"])]

# %% tags=["step:update"]
for p in points:
    acc.add(p.norm2())

# %% tags=["step:use"]
result = (acc.total, acc.history, [p.tags for p in points])
