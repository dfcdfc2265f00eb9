"""Where a pipeline can differ from the notebook although every step is right on its own:
shared objects split by storage, global random streams (planned in randomness.py), and
values that cannot be stored at all. Each finding is a warning (an error under --strict),
naming cells and names; a value a later step reads but nothing can store is an error."""

from __future__ import annotations

import ast
from collections.abc import Mapping

from nb2pipe.compiler import randomness
from nb2pipe.compiler.analysed import Analysis, Log, Unstorable, frozen_map
from nb2pipe.compiler.rules import GENERATOR, UNSTORABLE_CALLS, dotted


def check(an: Analysis) -> Analysis:
    """The analysis with its random plan, its unstorable values and these findings."""
    log = Log()
    _split_aliases(an, log)
    an = randomness.plan(an.adding(log))
    return an.adding((), unstorable=_unstorable(an))


def _unstorable(an: Analysis) -> Unstorable:
    """step -> name -> (what, fix, cell, line) for the names a step leaves bound to what
    pickle cannot store (open files, connections, DMatrix, generators). A later step
    reading one is an error now, not when the run saves it."""
    names = {"open": "builtins.open", **an.qualified}
    generators = {
        s.name
        for c in an.cells.values()
        for s in c.tree.body
        if isinstance(s, ast.FunctionDef) and _yields(s)
    }
    out: dict[str, Mapping[str, tuple[str, str, int, int]]] = {}
    for step, work in an.works.items():
        found: dict[str, tuple[str, str, int, int]] = {}
        for c in work.cells:
            for s in c.tree.body:
                if not isinstance(s, ast.Assign | ast.AnnAssign) or s.value is None:
                    continue
                kind = _value_kind(s.value, names, generators)
                targets = s.targets if isinstance(s, ast.Assign) else [s.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        if kind:
                            found[t.id] = (*kind, c.plan.cell.index, s.lineno)
                        else:
                            found.pop(t.id, None)
        out[step] = frozen_map(found)
    for work in an.works.values():
        for var, src in work.inputs.items():
            if var in out.get(src, {}):
                what, fix, cell, line = out[src][var]
                an.error(
                    f"{var!r} is {what}, which cannot be stored for step {work.name!r} to read",
                    cell,
                    line,
                    fix,
                )
    return frozen_map(out)


def _value_kind(
    value: ast.expr, names: dict[str, str], generators: set[str]
) -> tuple[str, str] | None:
    if isinstance(value, ast.GeneratorExp):
        return GENERATOR
    if not isinstance(value, ast.Call):
        return None
    name = dotted(value.func) or ""
    if name in generators:
        return GENERATOR
    root, _, rest = name.partition(".")
    if root not in names:
        return None
    return UNSTORABLE_CALLS.get(names[root] + ("." + rest if rest else ""))


def _yields(func: ast.FunctionDef) -> bool:
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _split_aliases(an: Analysis, log: Log) -> None:
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
                        log.warn(
                            f"{other!r} and {var!r} are the same object after step "
                            f"{producer!r} (an alias or a view); step {name!r} changes {var!r} "
                            f"in place, so the pipeline's {other!r} read by step {later!r} "
                            "keeps the old value",
                            cell,
                            line,
                            "split-alias",
                        )
