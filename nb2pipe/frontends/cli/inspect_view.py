"""Human and machine views of a Pipeline: the `inspect` table and its JSON."""

from __future__ import annotations

import json
from typing import Any

from nb2pipe.compiler.model import Pipeline

GUARD_POLICY = (
    "Unknown method calls on a step's inputs are assumed not to change them; the runtime "
    "guard fails a step that does (--allow-mutation makes it a warning)."
)


def _cells(cells: tuple[int, ...]) -> str:
    return ", ".join(map(str, cells))


def inspect_data(pipe: Pipeline) -> dict[str, Any]:
    return {
        "name": pipe.name,
        "notebook": pipe.notebook.path,
        "split": pipe.split,
        "steps": [
            {
                "name": s.name,
                "kind": s.kind,
                "cells": list(s.cells),
                "inputs": dict(s.inputs),
                "outputs": list(s.outputs),
                "params": list(s.params),
                "after": list(s.after),
                "metrics": list(s.metrics),
                "mutates": list(s.mutates),
                "doc": s.doc,
            }
            for s in pipe.steps
        ],
        "parameters": [
            {
                "name": p.name,
                "type": p.type,
                "optional": p.optional,
                "default": None if p.secret else p.default,
                "help": p.help,
                "secret": p.secret,
                "env": p.env,
                "cell": p.cell,
            }
            for p in pipe.parameters
        ],
        "derived": [{"name": d.name, "cell": d.cell} for d in pipe.derived],
        "requirements": list(pipe.requirements),
        "diagnostics": [
            {"severity": d.severity, "message": d.message, "cell": d.cell, "line": d.line}
            for d in pipe.diagnostics
        ],
        "guard_policy": GUARD_POLICY,
    }


def inspect_json(pipe: Pipeline) -> str:
    return json.dumps(inspect_data(pipe), indent=2, default=repr)


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
