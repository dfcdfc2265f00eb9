"""``nb2pipe inspect --explain NAME``: why a name is an input or an output of a step,
from the analysis: the cells that write it, read it and change it in place (and with
which line), and which steps depend on it."""

from __future__ import annotations

from nb2pipe.compiler import analysis, hazards
from nb2pipe.compiler.compilation import Compilation


def _where(an: analysis.Analysis, cell: int, line: int) -> str:
    c = an.cells.get(cell)
    text = (
        c.source.split("\n")[line - 1].strip() if c and 0 < line <= c.source.count("\n") + 1 else ""
    )
    return f"cell {cell}, line {line}" + (f" ({text})" if text else "")


def explain(comp: Compilation, name: str) -> list[str]:
    """One line per fact about `name`, in step order."""
    an = hazards.check(analysis.analyze(comp.layout))
    pipe = comp.pipeline
    out: list[str] = []
    readers = {s.name: s for s in pipe.steps if name in s.inputs}
    kind = an.origin.get(name, ("", ""))[0]
    if any(p.name == name for p in pipe.parameters):
        out.append(
            f"{name!r} is a parameter (cell {next(p.cell for p in pipe.parameters if p.name == name)})"
        )
    elif name in an.common_names:
        out.append(f"{name!r} is shared code (common.py), imported by the steps that use it")
    for w in an.works.values():
        f, step = w.facts, pipe.step(w.name)
        if name in f.binds:
            out.append(f"step {w.name!r} writes it at {_where(an, *f.binds[name])}")
        if name in f.mutated:
            out.append(f"step {w.name!r} changes it in place at {_where(an, *f.mutated[name])}")
        if name in step.inputs:
            r = f.reads[name]
            out.append(
                f"step {w.name!r} reads it at {_where(an, r.cell, r.line)} before writing it: "
                f"an input, from step {step.inputs[name]!r}, the last step that wrote or changed it"
            )
        elif name in f.reads and name in step.params:
            out.append(f"step {w.name!r} reads it: a parameter of the step")
        if name in step.outputs:
            later = [s for s, st in readers.items() if st.inputs[name] == w.name]
            why = (
                f"step(s) {', '.join(map(repr, later))} read it"
                if later
                else "nothing depends on this step, so it keeps what it defines"
            )
            if name in step.mutates:
                why = f"it changes its input in place; {why}"
            out.append(f"{name!r} is an output of step {w.name!r}: {why}")
    if not out:
        out.append(
            f"{name!r} is neither read nor written by any step" + (f" ({kind})" if kind else "")
        )
    return out
