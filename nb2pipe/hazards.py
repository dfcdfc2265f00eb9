"""Where a pipeline can differ from the notebook although every step is right on its own:
shared objects split by storage, and global random streams restarted in every step.
Each finding is a warning (an error under --strict), naming cells and names."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from nb2pipe.rules import dotted

if TYPE_CHECKING:
    from nb2pipe.analysis import Analyzer, StepWork

#: Functions of numpy.random / random that do not draw from the global stream.
NOT_DRAWING = {"seed", "default_rng", "RandomState", "Generator", "SeedSequence", "Random",
               "SystemRandom", "get_state", "getstate", "set_state", "setstate", "PCG64",
               "MT19937", "Philox", "SFC64", "BitGenerator"}  # fmt: skip


def check(an: Analyzer) -> None:
    _split_aliases(an)
    _global_random(an)


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


def _global_random(an: Analyzer) -> None:
    """A seed set once in the notebook, then several steps drawing from the global stream:
    the notebook continues the stream, the pipeline restarts it in every step."""
    seeded = [f for f in an.settings if _seeds(f.source)]
    if not seeded:
        return
    modules = {name: imp.module for name, imp in an.pool.items()}
    drawing: list[tuple[str, int, int]] = []
    for name, work in an.works.items():
        hit = _first_draw(work, modules)
        if hit:
            drawing.append((name, *hit))
    for name, cell, line in drawing[1:]:
        an.warn(
            f"step {name!r} draws from the global random stream seeded in cell "
            f"{seeded[0].cell}; the notebook continues it from earlier steps, the pipeline "
            "restarts it in every step (use a seed parameter or np.random.default_rng)",
            cell,
            line,
            "global-random",
        )


def _seeds(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = dotted(node.func) or ""
            if name.endswith("seed") and "." in name:
                return True
    return False


def _first_draw(work: StepWork, modules: dict[str, str]) -> tuple[int, int] | None:
    for c in work.cells:
        for node in ast.walk(c.tree):
            if not isinstance(node, ast.Call):
                continue
            name = dotted(node.func) or ""
            parts = name.split(".")
            if len(parts) < 2 or parts[-1] in NOT_DRAWING:
                continue
            module = modules.get(parts[0], "")
            full = ".".join([module, *parts[1:-1]]) if module else ""
            if full in ("numpy.random", "random"):
                return c.plan.cell.index, node.lineno
    return None
