"""Merging a heading split that gives one step per cell (issue 14 item 3).

Some notebooks put a heading above every cell; cut there, each cell is a step, and most
steps carry nothing to another step (a plot, a print, a look at the data). A step is
worth a module when it carries data to another step: when the heading split gives
mostly one-cell steps, each step no other step reads from joins the step before it (the
first such steps join the step after them). Steps are contiguous cell ranges, so the
merged ones are too."""

from __future__ import annotations

from dataclasses import replace

from nb2pipe.compiler import analysis, assemble, hazards
from nb2pipe.compiler.model import Diagnostic, Layout, Pipeline
from nb2pipe.errors import Nb2pipeError

MIN_STEPS = 4  # fewer steps than this are left as the headings give them
ONE_CELL_SHARE = 0.75  # the share of one-cell steps that makes a split "one step per cell"


def one_step_per_cell(pipe: Pipeline) -> bool:
    steps = pipe.steps
    singles = sum(1 for s in steps if len(s.cells) == 1)
    return len(steps) >= MIN_STEPS and singles >= ONE_CELL_SHARE * len(steps)


def plan(pipe: Pipeline) -> dict[str, str]:
    """Step -> the step it joins, for the steps that carry no data to another step."""
    carriers = {src for s in pipe.steps for src in s.inputs.values()}
    carriers |= {a for s in pipe.steps for a in s.after}
    carriers |= {s.name for s in pipe.steps if s.kind == "gate"}
    carriers |= {"setup"} & {pipe.steps[0].name}  # its settings are replayed in every step
    order = [s.name for s in pipe.steps]
    into: dict[str, str] = {}
    keep = [n for n in order if n in carriers]
    if not keep:
        keep = [order[-1]]
    for i, name in enumerate(order):
        if name in keep:
            continue
        before = [n for n in order[:i] if n in keep]
        after = [n for n in order[i + 1 :] if n in keep]
        into[name] = before[-1] if before else after[0]
    return into


def apply(layout: Layout) -> Layout:
    """The layout with the one-cell steps of a heading split merged (unchanged otherwise)."""
    if not layout.split.startswith("h"):
        return layout
    try:
        pipe = assemble.assemble(hazards.check(analysis.analyze(layout)))
    except (Nb2pipeError, RecursionError):
        return layout  # compile reports it
    if not one_step_per_cell(pipe):
        return layout
    into = plan(pipe)
    if not into:
        return layout
    cells = tuple(replace(p, step=into.get(p.step, p.step)) if p.step else p for p in layout.cells)
    docs = dict(layout.docs)
    for gone in into:
        docs.pop(gone, None)
    message = (
        f"the headings give one step per cell: {len(into)} step(s) that carry no data to "
        f"another step joined a neighbour ({', '.join(f'{a} -> {b}' for a, b in into.items())})"
    )
    return replace(
        layout,
        cells=cells,
        step_order=tuple(n for n in layout.step_order if n not in into),
        docs=docs,
        diagnostics=(*layout.diagnostics, Diagnostic("note", message, code="merged-steps")),
    )
