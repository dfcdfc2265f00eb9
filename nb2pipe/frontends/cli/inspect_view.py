"""The `nb2pipe inspect` table (its JSON is nb2pipe.compiler.summary's)."""

from __future__ import annotations

from nb2pipe.compiler.model import Pipeline
from nb2pipe.compiler.summary import GUARD_POLICY


def _cells(cells: tuple[int, ...]) -> str:
    return ", ".join(map(str, cells))


def print_inspect(pipe: Pipeline) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=False)
    console.print(
        f"[bold]{escape(pipe.name)}[/] from {escape(pipe.notebook.path)} "
        f"(steps split by {pipe.split})"
    )
    steps = Table(title="Steps", title_justify="left")
    for col in ("step", "cells", "inputs", "outputs", "parameters"):
        steps.add_column(col, overflow="fold")
    for s in pipe.steps:
        by_src: dict[str, list[str]] = {}
        for var, src in s.inputs.items():
            by_src.setdefault(src, []).append(var)
        ins = "; ".join(f"{src}: {', '.join(vs)}" for src, vs in by_src.items())
        if s.after:
            ins += ("; " if ins else "") + "after " + ", ".join(s.after)
        name = s.name + (" (gate)" if s.kind == "gate" else "")
        outs = ", ".join(f"{o}*" if o in s.metrics else o for o in s.outputs)
        steps.add_row(*map(escape, (name, _cells(s.cells), ins, outs, ", ".join(s.params))))
    console.print(steps)
    if any(s.metrics for s in pipe.steps):
        console.print("* metric")
    if pipe.parameters or pipe.derived:
        params = Table(title="Parameters", title_justify="left")
        for col in ("name", "type", "default", "help"):
            params.add_column(col, overflow="fold")
        for p in pipe.parameters:
            ptype = p.type + (" | None" if p.optional and p.type != "Any" else "")
            default = f"env {p.env} (secret)" if p.secret else repr(p.default)
            params.add_row(*map(escape, (p.name, ptype, default, p.help)))
        for d in pipe.derived:
            params.add_row(d.name, "derived", f"computed in cell {d.cell}", "not overridable")
        console.print(params)
    if pipe.diagnostics:
        console.print("[bold]Diagnostics[/]")
        for d in pipe.diagnostics:
            console.print(f"  {d}", markup=False)
    console.print(GUARD_POLICY)
