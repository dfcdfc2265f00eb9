# %% [markdown]
# # match
# Capture patterns, class patterns, mapping patterns and guards bind names.

# %% tags=["step:classify"]
from dataclasses import dataclass


@dataclass
class Shape:
    kind: str
    size: float


def describe(item):
    match item:
        case {"kind": kind, "size": size} if size > 5:
            return f"big {kind}"
        case Shape(kind="circle", size=r):
            return f"circle r={r}"
        case [first, *rest]:
            return f"list of {1 + len(rest)} starting {first}"
        case _:
            return "unknown"


labels = [describe(x) for x in [{"kind": "box", "size": 7}, Shape("circle", 2.0), [1, 2, 3], 5]]

command = ("move", 3, 4)
match command:
    case ("move", dx, dy):
        position = (dx, dy)
    case _:
        position = (0, 0)

# %% tags=["step:use"]
result = (labels, position, dx + dy)
