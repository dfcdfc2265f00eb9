"""The compiler side of metrics and models: what ``metrics`` and ``model:NAME`` cells
declare. Pure functions over a cell's source and syntax tree; the assembly pass calls them.

* **Metric direction:** a trailing comment on a metric's line in the ``metrics`` cell,
  ``rmse  # lower`` or ``accuracy  # higher`` ("lower is better", "min", "max", ...).
  Undeclared: by name (see :mod:`nb2pipe.runtime.metrics`). ``# primary`` (alone or
  beside the direction: ``accuracy  # higher, primary``) marks the metric the champion
  policy judges by.
* **Model:** ``model:NAME`` on a cell registers, under NAME, the variable called NAME if
  the cell assigns or fits one, else the last variable the cell assigns or changes at its
  top level (``forest = RandomForestClassifier(...)`` then ``forest.fit(X, y)``: forest).
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable, Iterable
from typing import Any

from nb2pipe.runtime.metrics import declared_direction, is_primary

# method calls that make a fitted model out of the object they are called on
_FITTING = {"fit", "partial_fit", "fit_transform", "fit_predict", "train", "compile", "set_params"}


def comment_directions(source: str) -> dict[int, str]:
    """{line (1-based): direction} for lines of ``source`` ending in a direction comment."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                direction = declared_direction(tok.string)
                if direction is not None:
                    out[tok.start[0]] = direction
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return out


def comment_primary(source: str) -> set[int]:
    """Lines of ``source`` whose trailing comment marks a metric ``primary``."""
    out: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and is_primary(tok.string):
                out.add(tok.start[0])
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return out


def _bound(stmt: ast.stmt) -> list[str]:
    """Names a top-level statement assigns, or fits (``x.fit(...)``), in order."""
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        targets = [stmt.target]
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        # forest.fit(X, y), also chained: model.fit(X, y).predict(...) is not a fit
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _FITTING
            and isinstance(func.value, ast.Name)
        ):
            return [func.value.id]
        return []
    names: list[str] = []
    for t in targets:
        if isinstance(t, ast.Name):
            names.append(t.id)
        elif isinstance(t, ast.Tuple | ast.List):
            names.extend(e.id for e in t.elts if isinstance(e, ast.Name))
    return names


def model_variable(name: str, tree: ast.Module) -> tuple[str | None, int | None]:
    """The variable a ``model:NAME`` cell registers, and the line that makes it."""
    last: tuple[str | None, int | None] = (None, None)
    own: tuple[str | None, int | None] = (None, None)
    for stmt in tree.body:
        for n in _bound(stmt):
            last = (n, stmt.lineno)
            if n == name:
                own = (n, stmt.lineno)
    return own if own[0] is not None else last


def metric_directions(work: Any) -> dict[str, str]:
    """{metric: direction} declared by comments in the ``metrics`` cells of a step's
    analysis (``StepWork``: ``cells`` and ``metric_decls`` (name, cell, line))."""
    by_cell = {
        c.plan.cell.index: comment_directions(c.source)
        for c in work.cells
        if c.plan.role == "metrics"
    }
    out: dict[str, str] = {}
    for var, cell, line in work.metric_decls:
        direction = by_cell.get(cell, {}).get(line)
        if direction is not None:
            out[var] = direction
    return out


def primary_metrics(work: Any) -> list[str]:
    """Metrics of a step's analysis marked ``# primary`` in its ``metrics`` cells."""
    by_cell = {
        c.plan.cell.index: comment_primary(c.source) for c in work.cells if c.plan.role == "metrics"
    }
    return [var for var, cell, line in work.metric_decls if line in by_cell.get(cell, ())]


def step_models(work: Any, error: Callable[..., Any]) -> list[tuple[str, str]]:
    """(model name, variable) for each ``model:NAME`` cell of a step's analysis; calls
    ``error(message, cell, line, hint)`` (which raises) when a declaration cannot hold."""
    found: list[tuple[str, str]] = []
    for c in work.cells:
        name = getattr(c.plan, "model_name", None)
        if not name:
            continue
        cell = c.plan.cell.index
        if work.kind != "step" or c.plan.role not in ("step", None):
            error(
                f"model:{name} is on a {c.plan.role or work.kind} cell",
                cell,
                None,
                "put model:NAME on the cell that creates the model",
            )
        var, line = model_variable(name, c.tree)
        if var is None or (var not in work.facts.binds and var not in work.facts.mutated):
            error(
                f"model:{name}: the cell assigns no variable to register",
                cell,
                line,
                f"assign the model to a variable (e.g. {name} = ...) in this cell",
            )
        found.append((name, str(var)))
    return found


# calls whose result is evidently not a number (the rest is left to the runtime's check)
_TEXT_CALLS = {"str", "repr", "format", "classification_report", "to_string", "to_markdown"}
_TABLE_CALLS = {"DataFrame", "describe", "to_frame", "crosstab", "pivot_table", "value_counts"}
_ARRAY_CALLS = {"confusion_matrix", "array", "asarray", "zeros", "ones"}


def last_value(name: str, cells: Iterable[tuple[int, ast.Module]]) -> tuple[int, ast.expr] | None:
    """(cell, value) of ``name = value`` when that is the last top-level statement binding
    ``name`` in these cells, in order; None when the last binding is anything else (a loop,
    a branch, a tuple target: left to the runtime's check)."""
    found: tuple[int, ast.expr] | None = None
    for cell, tree in cells:
        for stmt in tree.body:
            if _binds(stmt, name):
                plain = (
                    isinstance(stmt, ast.Assign)
                    and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                )
                found = (cell, stmt.value) if plain else None  # type: ignore[attr-defined]
    return found


def _binds(stmt: ast.stmt, name: str) -> bool:
    if getattr(stmt, "name", None) == name:  # def, class
        return True
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == name:
            return True
    return False


def not_a_number(value: ast.expr) -> str | None:
    """What a metrics cell's assigned value evidently is when it is not a number ("a
    string", "a DataFrame", ...), else None."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str | bytes):
        return "a string"
    if isinstance(value, ast.JoinedStr):
        return "a string (f-string)"
    if isinstance(value, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.ListComp | ast.DictComp):
        return f"a {type(value).__name__.lower().replace('comp', '')}"
    if isinstance(value, ast.Call):
        f = value.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name == "classification_report":
            as_dict = any(
                k.arg == "output_dict"
                and not (isinstance(k.value, ast.Constant) and not k.value.value)
                for k in value.keywords
            )
            return "a dict" if as_dict else "a string (a text report)"
        if name in _TEXT_CALLS or (
            name == "format" and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Constant)
        ):
            return "a string"
        if name in _TABLE_CALLS:
            return "a DataFrame or Series"
        if name in _ARRAY_CALLS:
            return "an array"
    return None
