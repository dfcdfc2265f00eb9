"""``--include-skip-definitions``: a name the pipeline reads that only ``skip`` cells
define is an error (the skip cell is named); with this option the assignments that define
it are kept, and nothing else of the skip cell. The kept statements join the step the skip
cell sits in (the step of the code cell before it, else the first step after it)."""

from __future__ import annotations

import ast
from dataclasses import replace

from nb2pipe.compiler import magics
from nb2pipe.compiler.model import CellPlan, Diagnostic, Layout
from nb2pipe.compiler.rules import BUILTIN_NAMES
from nb2pipe.errors import AnalysisError

KEPT = ("parameters", "imports", "functions", "step", "metrics", "validate")
DEFINES = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.FunctionDef, ast.ClassDef, ast.Import)


def _tree(plan: CellPlan, file: str) -> ast.Module | None:
    try:
        source = magics.transform(plan.cell.source, file=file, cell=plan.cell.index).source
        return ast.parse(source)
    except (AnalysisError, SyntaxError, ValueError, RecursionError):
        return None


def _binds(node: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(n.name)
        elif isinstance(n, ast.alias):
            out.add((n.asname or n.name).split(".")[0])
    return out


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def include(layout: Layout) -> Layout:
    file = layout.notebook.path
    trees = {p.cell.index: _tree(p, file) for p in layout.cells if p.cell.cell_type == "code"}
    kept = [p for p in layout.cells if p.role in KEPT and trees.get(p.cell.index)]
    bound, read = set(BUILTIN_NAMES), set()
    for p in kept:
        bound |= _binds(trees[p.cell.index])
        read |= _reads(trees[p.cell.index])
    skips = [p for p in layout.cells if p.role == "skip" and trees.get(p.cell.index)]
    chosen: dict[int, list[ast.stmt]] = {}
    needed = read - bound
    while needed:
        more: set[str] = set()
        for p in skips:
            for s in trees[p.cell.index].body:
                if isinstance(s, DEFINES) and _binds(s) & needed:
                    if s not in chosen.setdefault(p.cell.index, []):
                        chosen[p.cell.index].append(s)
                        more |= _reads(s) - bound
            bound |= {n for s in chosen.get(p.cell.index, []) for n in _binds(s)}
        needed = more - bound
    if not chosen:
        return layout
    return _rewrite(layout, chosen)


def _rewrite(layout: Layout, chosen: dict[int, list[ast.stmt]]) -> Layout:
    plans, diags = list(layout.cells), list(layout.diagnostics)
    for i, p in enumerate(plans):
        stmts = chosen.get(p.cell.index)
        if not stmts:
            continue
        stmts.sort(key=lambda s: s.lineno)
        lines = magics.transform(p.cell.source, file="", cell=0).source.split("\n")
        text = "\n".join("\n".join(lines[s.lineno - 1 : s.end_lineno]) for s in stmts)
        step = next((q.step for q in reversed(plans[:i]) if q.step), None)
        step = step or next((q.step for q in plans[i:] if q.step), None)
        if step is None:
            continue
        plans[i] = replace(p, cell=replace(p.cell, source=text), role="step", step=step)
        names = sorted({n for s in stmts for n in _binds(s)})
        diags.append(Diagnostic("note", f"skip cell keeps the definition of {', '.join(names)} "
                                f"(--include-skip-definitions), in step {step!r}", p.cell.index))  # fmt: skip
    return replace(layout, cells=tuple(plans), diagnostics=tuple(diags))
