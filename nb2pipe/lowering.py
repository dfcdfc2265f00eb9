"""Lowering: a step's notebook code becomes the body of its function, as text.

Statements move out (imports and hoisted definitions to module level; display lines and
metric declarations are dropped) and a few are rewritten in place: the ``__main__`` guard,
``global`` in functions that stay nested, and a gate's ``assert`` into ``check(...)``.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from nb2pipe.model import Fragment
from nb2pipe.rules import is_import
from nb2pipe.scopes import free_names
from nb2pipe.source import Editor, is_display, segment

if TYPE_CHECKING:
    from nb2pipe.analysis import Analyzer, PreparedCell, StepWork

MAIN_TEST = re.compile(r"__name__\s*==\s*['\"]__main__['\"]|['\"]__main__['\"]\s*==\s*__name__")


def fragments(an: Analyzer, w: StepWork) -> tuple[tuple[Fragment, ...], tuple[Fragment, ...]]:
    body: list[Fragment] = []
    hoisted: list[Fragment] = []
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
        rewrite(an, w, c, ed)
        text = ed.result()
        if text.strip():
            body.append(Fragment(c.plan.cell.index, text))
    return tuple(body), tuple(hoisted)


def rewrite(an: Analyzer, w: StepWork, c: PreparedCell, ed: Editor) -> None:
    """In-place edits: __main__ guards, global -> nonlocal in nested defs, gate asserts."""
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
        return
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
            w.extra_imports.add("from nb2pipe.runtime import check")


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
