"""Where a pipeline can differ from the notebook although every step is right on its own:
shared objects split by storage, and global random streams (planned in randomness.py).
Each finding is a warning (an error under --strict), naming cells and names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nb2pipe import randomness

if TYPE_CHECKING:
    from nb2pipe.analysis import Analyzer


def check(an: Analyzer) -> None:
    _split_aliases(an)
    an.random_plan = randomness.plan(an)


def _split_aliases(an: Analyzer) -> None:
    """`backup = data` in one step, `data.append(...)` in a later one: in the notebook
    backup changes too; in the pipeline each name is stored on its own."""
    order = list(an.works)
    for i, name in enumerate(order):
        work = an.works[name]
        for var in work.facts.mutated:
            producer = work.inputs.get(var)
            if producer is None:
                continue
            p_aliases = an.works[producer].aliases
            same = {a for a, srcs in p_aliases.items() if var in srcs} | p_aliases.get(var, set())
            same.discard(var)
            for later in order[i + 1 :]:
                reader = an.works[later]
                for other in sorted(same):
                    if reader.inputs.get(other) == producer:
                        cell, line = work.facts.mutated[var]
                        an.warn(
                            f"{other!r} and {var!r} are the same object after step "
                            f"{producer!r} (an alias or a view); step {name!r} changes {var!r} "
                            f"in place, so the pipeline's {other!r} read by step {later!r} "
                            "keeps the old value",
                            cell,
                            line,
                            "split-alias",
                        )
