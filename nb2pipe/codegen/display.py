"""The package's ``display_settings.py``: the notebook's display settings (how pandas and
numpy print, how plots look), one function per library. A step that uses the library
calls its function first; the runtime hashes the step's own module and the shared code it
names, never this module, so a display setting is no part of any cache key."""

from __future__ import annotations

import ast
from typing import Any

from nb2pipe.codegen import render
from nb2pipe.compiler.model import Pipeline, Step

MODULE = "display_settings"
FUNCTIONS = {"pandas": "pandas_options", "numpy": "numpy_printoptions", "plotting": "plot_style"}


def functions(pipe: Pipeline) -> dict[str, str]:
    """Library -> its function's name in display_settings.py (clear of the imports' names)."""
    taken = _bound(pipe.display_imports)
    out = {}
    for d in pipe.display:
        name = FUNCTIONS[d.library]
        while name in taken:
            name += "_"
        out[d.library] = name
    return out


def module(env: Any, base: dict[str, Any], pipe: Pipeline) -> str | None:
    """The text of display_settings.py; None when no step replays a display setting."""
    used = {lib for s in pipe.steps for lib in s.display}
    if not used:
        return None
    names = functions(pipe)
    return str(
        env.get_template("display_settings.py.j2").render(
            base,
            imports=render.join_imports(pipe.display_imports),
            display=[(names[d.library], d) for d in pipe.display if d.library in used],
        )
    )


def step_calls(pipe: Pipeline, step: Step, taken: set[str]) -> tuple[str | None, list[str]]:
    """The import a step needs and the calls it starts with (a comment says which cells
    they come from). ``taken``: names the step's module already uses."""
    if not step.display:
        return None, []
    alias = MODULE
    while alias in taken:
        alias += "_"
    names = functions(pipe)
    cells = {d.library: sorted({f.cell for f in d.fragments}) for d in pipe.display}
    calls = []
    for lib in step.display:
        where = ", ".join(map(str, cells[lib]))
        calls.append(
            f"{alias}.{names[lib]}()  # display settings of cell{'s' if len(cells[lib]) > 1 else ''}"
            f" {where}, not in the cache key"
        )
    imported = f"from .. import {MODULE}" + (f" as {alias}" if alias != MODULE else "")
    return imported, calls


def step_names(step: Step, imports: list[str]) -> set[str]:
    """Every name a step's module binds or reads: what an alias must stay clear of."""
    names = _bound(imports) | set(step.user_inputs) | set(step.params) | {"Any"}
    for frag in (*step.body, *step.hoisted, *step.seeds):
        for node in ast.walk(ast.parse(frag.source)):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
    return names


def _bound(imports: tuple[str, ...] | list[str]) -> set[str]:
    out = set()
    for line in imports:
        for node in ast.walk(ast.parse(line)):
            if isinstance(node, ast.alias):
                out.add((node.asname or node.name).split(".")[0])
    return out
