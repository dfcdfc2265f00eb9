"""Functions a step uses but cannot import, generated inside the step instead.

In a notebook a function reads the globals it uses when it is called. Two kinds of
functions cannot be imported by the steps that call them:

- a function defined in a step that reads that step's variables (a ``setup`` cell's
  ``save_fig`` reading ``IMAGES_PATH``, a helper reading the data it was written next to);
- a shared function (``functions`` cell) that reads a parameter or a step's variable.

Each step that uses one gets the function's definition at the top of its body. Every
global the function reads is then a name of the step's own scope: an input (from the
step that last wrote it), a parameter, shared code or an import, read when the function
runs, as the notebook reads it; so the step's cache key covers what the function reads.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nb2pipe.compiler.model import Fragment
from nb2pipe.compiler.scopes import Facts, FuncInfo, Read


@dataclass(frozen=True)
class Copyable:
    """A function the steps that use it define again (see the module's docstring)."""

    name: str
    home: str  # the step that defines it; "" for a shared function
    fragment: Fragment  # its definition, with its decorators


def make(name: str, home: str, cell: int, source: str, node: ast.stmt) -> Copyable:
    where = f"step {home!r}" if home else "a shared cell"
    note = f"# {name}: from {where}, defined again in each step that uses it (reads globals)"
    return Copyable(name, home, Fragment(cell, note + "\n" + def_text(source, node)))


def def_text(source: str, node: ast.stmt) -> str:
    """The source of a def or class, decorators included."""
    lines = source.split("\n")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


def pull(
    facts: Facts,
    copyable: dict[str, Copyable],
    funcs: dict[str, FuncInfo],
    origin: dict[str, tuple[str, str]],
) -> dict[str, Fragment]:
    """The functions a step must define itself, by name, from the names it reads. A
    function counts when the name still means it here (not rebound as data since). What
    their definitions read (decorators, defaults) becomes the step's reads too."""
    out: dict[str, Fragment] = {}
    todo = list(facts.reads)
    while todo:
        n = todo.pop()
        c = copyable.get(n)
        if c is None or n in out or origin.get(n) != (("step", c.home) if c.home else ("copy", "")):
            continue
        out[n] = c.fragment
        read = facts.reads[n]
        for extra in sorted(funcs[n].def_reads | funcs[n].free):
            if extra not in facts.reads and extra not in facts.must:
                facts.reads[extra] = Read(read.line, read.cell, False)
                todo.append(extra)
            elif extra in copyable:
                todo.append(extra)
    return dict(sorted(out.items(), key=lambda kv: (kv[1].cell, funcs[kv[0]].line)))
