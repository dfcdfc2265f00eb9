"""Lowering: a step's notebook code becomes the body of its function, as text.

Statements move out (imports and hoisted definitions to module level; display lines and
metric declarations are dropped) and a few are rewritten in place: the ``__main__`` guard,
``global`` in functions that stay nested, and a gate's ``assert`` into ``check(...)``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from nb2pipe.compiler.analysed import Analysis, PreparedCell, StepAnalysis
from nb2pipe.compiler.display import PLOTTING, reach
from nb2pipe.compiler.model import Fragment
from nb2pipe.compiler.rules import is_import
from nb2pipe.compiler.scopes import free_names
from nb2pipe.compiler.source import Editor, is_display, segment

MAIN_TEST = re.compile(r"__name__\s*==\s*['\"]__main__['\"]|['\"]__main__['\"]\s*==\s*__name__")


@dataclass(frozen=True)
class Lowered:
    """A step's code as its function's body, and what that body needs imported."""

    body: tuple[Fragment, ...]
    hoisted: tuple[Fragment, ...]  # functions and classes placed at module level
    imports: frozenset[str]  # imported names the lowered code uses (plt of plt.show())
    extra_imports: frozenset[str]  # import statements of its own (nb2pipe.runtime's check)


def fragments(an: Analysis, w: StepAnalysis) -> Lowered:
    body: list[Fragment] = []
    hoisted: list[Fragment] = []
    needs: set[str] = set()
    for c in w.cells:
        ed = Editor(c.source)
        stmts = c.tree.body
        for s in stmts:
            if is_import(s):
                ed.remove(s, stmts)
            elif isinstance(s, ast.Global):
                ed.remove(s, stmts)
            elif id(s) in w.dropped:
                ed.remove(s, stmts)
            elif isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if s.name in w.hoisted:
                    if ed.remove(s, stmts):
                        hoisted.append(Fragment(c.plan.cell.index, _def_text(c.source, s)))
        kept = [s for s in stmts if id(s) not in w.dropped]
        if c.plan.role in ("step", "metrics") and kept and is_display(kept[-1]):
            ed.remove(kept[-1], stmts)
        needs |= rewrite(an, w, c, ed)
        text = ed.result()
        if text.strip():
            body.append(Fragment(c.plan.cell.index, text))
    show, names, more = cell_end(an, w) if len(body) > 1 else (None, set(), set())
    if show:  # Jupyter shows and closes a cell's figures when it ends
        body[:-1] = [_end(f, show) for f in body[:-1]]
    return Lowered(tuple(body), tuple(hoisted), frozenset(names), frozenset(needs | more))


def _end(frag: Fragment, show: str) -> Fragment:
    if frag.source.rstrip().endswith("\n" + show) or frag.source.strip() == show:
        return frag  # the cell ends with plt.show() already
    return Fragment(
        frag.cell, f"{frag.source}\n{show}  # cell {frag.cell} ends: figures shown, closed"
    )


def cell_end(an: Analysis, w: StepAnalysis) -> tuple[str | None, set[str], set[str]]:
    """``plt.show()`` for a step that plots in a notebook that imports matplotlib or
    seaborn: with nb2pipe's backend it saves and closes the cell's figures. Returns the
    statement (None: none), the imported names and the import statements it needs."""
    names = an.qualified
    plotting = {n for n, q in names.items() if q.startswith(PLOTTING)}
    if not plotting:
        return None, set(), set()
    used, plots = reach(an, w)  # the functions it calls may plot
    if not (plots or used & plotting):
        return None, set(), set()
    pyplot = sorted(n for n, q in names.items() if q == "matplotlib.pyplot")
    if pyplot:
        return f"{pyplot[0]}.show()", {pyplot[0]}, set()
    return "matplotlib.pyplot.show()", set(), {"import matplotlib.pyplot"}


def rewrite(an: Analysis, w: StepAnalysis, c: PreparedCell, ed: Editor) -> set[str]:
    """In-place edits: __main__ guards, global -> nonlocal in nested defs, gate asserts.
    Returns the import statements the edits need."""
    for node in ast.walk(c.tree):
        if isinstance(node, ast.If) and MAIN_TEST.fullmatch(segment(c.source, node.test)):
            ed.insert_before(node, '# In the notebook, __name__ == "__main__": the block runs.')
            ed.replace(node.test, "True")
    for s in c.tree.body:
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and s.name not in w.hoisted:
            for node in ast.walk(s):
                if isinstance(node, ast.Global):
                    missing = [n for n in node.names if n not in w.facts.must and n not in w.inputs]
                    if missing:
                        an.error(
                            f"function {s.name!r} declares {missing[0]!r} global, but the step "
                            "does not define it first",
                            c.plan.cell.index,
                            node.lineno,
                            "assign it before the function, or pass it as an argument",
                        )
                    ed.replace(node, "nonlocal " + ", ".join(node.names))
    if w.kind != "gate":
        return set()
    needs: set[str] = set()
    local_ok = set(w.inputs) | set(w.params) | set(w.facts.binds)
    for node in ast.walk(c.tree):
        if isinstance(node, ast.Assert):
            names = _value_names(node.test) & local_ok
            text = segment(c.source, node.test)
            args = [segment(c.source, node.test)]
            if node.msg is not None:
                args.append(segment(c.source, node.msg))
            values = ", ".join(f"{n!r}: {n}" for n in sorted(names))
            call = (
                f"check({', '.join(args)}, text={text!r}, cell={c.plan.cell.index}, "
                f"line={node.lineno}, values={{{values}}})"
            )
            ed.replace(node, call)
            needs.add("from nb2pipe.runtime import check")
    return needs


def _def_text(source: str, node: ast.stmt) -> str:
    lines = source.split("\n")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


def _value_names(expr: ast.AST) -> set[str]:
    """Names whose values a check reports: those read in the expression's own scope."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out.add(n.id)
        elif isinstance(
            n, ast.Lambda | ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
        ):
            out |= free_names(n)[0]
        else:
            stack.extend(ast.iter_child_nodes(n))
    return out
