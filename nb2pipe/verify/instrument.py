"""Build the instrumented copy of a notebook that ``verify`` executes.

The user's notebook is never touched: the copy is a new notebook built from its cells.

- ``skip`` cells and a papermill ``injected-parameters`` cell are left out (the pipeline
  computes the notebook minus those).
- The first parameters cell (a Kale ``pipeline-parameters`` cell or an ``#| nb2pipe:``
  directive included) is tagged ``parameters`` so papermill injects values after it.
- Values papermill cannot render faithfully (tuples, dicts with non-string keys) and the
  derived values of the parameters cell, recomputed from the overridden parameters as
  the pipeline does, go into a cell of our own just after it.
- ``!pip install`` / ``%pip install`` lines are left out: the pipeline moves them to its
  requirements, and verify must not change the environment it runs in.
- After the last cell of each step, a capture cell saves the step's outputs.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nb2pipe.compiler.model import Layout

META = "nb2pipe_verify"  # cell metadata key: {"cell": original 1-based index}
CAPTURE_MODULE = "nb2pipe.verify.capture"
_INSTALL = re.compile(r"^(\s*)(?:!|%)\s*(?:pip3?|conda|mamba|uv(?:\s+pip)?)\s+install\b.*$")


@dataclass(frozen=True)
class StepPlan:
    """What to capture where: the outputs of ``name`` after notebook cell ``last_cell``."""

    name: str
    last_cell: int
    outputs: tuple[str, ...]


@dataclass
class Instrumented:
    notebook: Any  # nbformat.NotebookNode
    papermill_parameters: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    cell_of_step: dict[int, str] = field(default_factory=dict)  # original cell -> step


def papermill_safe(value: Any, depth: int = 0) -> bool:
    """Does papermill's Python translator render ``value`` back to an equal value of the
    same type? (It renders tuples as strings and dict keys as strings.)"""
    if depth > 50:
        return False
    t = type(value)
    if value is None or t in (bool, int, str):
        return True
    if t is float:
        return True  # papermill renders inf and nan as float('inf') / float('nan')
    if t is list:
        return all(papermill_safe(v, depth + 1) for v in value)
    if t is dict:
        return all(type(k) is str and papermill_safe(v, depth + 1) for k, v in value.items())
    return False


def literal_source(name: str, value: Any) -> str:
    """``name = <value>``, rendered from literals only and checked to read back equal."""
    if not name.isidentifier():
        raise ValueError(f"not an identifier: {name!r}")
    text = _literal(value)
    try:
        back = eval(text, {"__builtins__": {}, "float": float})  # noqa: S307 - our own rendering
    except Exception:  # noqa: BLE001
        back = _Unset
    if not _same(back, value):
        raise ValueError(
            f"parameter {name!r}: a {type(value).__name__} value that cannot be passed to the "
            "notebook as a literal"
        )
    return f"{name} = {text}"


class _Unset:
    pass


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _literal(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "float('nan')"
        return "float('inf')" if value > 0 else "-float('inf')"
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def derived_statements(source: str, param_names: Sequence[str]) -> str | None:
    """The statements of a parameters cell other than the parameters' own assignments
    (imports and derived values), to run again after papermill's injected cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    keep: list[str] = []
    names = set(param_names)
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if targets and all(isinstance(t, ast.Name) and t.id in names for t in targets):
            continue
        segment = ast.get_source_segment(source, node)
        if segment:
            keep.append(segment)
    return "\n".join(keep) if keep else None


def _strip_installs(source: str) -> tuple[str, int]:
    count = 0
    out = []
    for line in source.split("\n"):
        m = _INSTALL.fullmatch(line)
        if m:
            count += 1
            line = f"{m.group(1)}pass  # nb2pipe verify: package install left out"
        out.append(line)
    return "\n".join(out), count


def capture_source(folder: str, step: str, names: Sequence[str]) -> str:
    return (
        f"# nb2pipe verify: capture the outputs of step {step!r}\n"
        f"__import__({CAPTURE_MODULE!r}, fromlist=['save']).save("
        f"{folder!r}, {step!r}, {tuple(names)!r}, globals())"
    )


def build(
    layout: Layout,
    steps: Sequence[StepPlan],
    capture_dir: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    param_names: Sequence[str] = (),
    derived: Sequence[str] = (),
) -> Instrumented:
    """The instrumented notebook for ``layout`` (the tag pass's view of the notebook)."""
    import nbformat

    v4 = nbformat.v4
    overrides = dict(overrides or {})
    by_last: dict[int, list[StepPlan]] = {}
    for s in steps:
        by_last.setdefault(s.last_cell, []).append(s)
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    result = Instrumented(nb, {})
    pm_params = {k: v for k, v in overrides.items() if papermill_safe(v)}
    rendered = {k: v for k, v in overrides.items() if k not in pm_params}
    result.papermill_parameters = pm_params
    params_seen = False
    skipped = installs = 0
    for plan in layout.cells:
        cell = plan.cell
        if plan.step is not None:
            result.cell_of_step[cell.index] = plan.step
        if plan.role in ("skip", "injected"):
            skipped += plan.role == "skip"
            if plan.role == "injected":
                result.notes.append(f"cell {cell.index}: papermill's injected cell left out")
            continue
        if cell.cell_type == "markdown":
            new = v4.new_markdown_cell(cell.source)
        elif cell.cell_type == "raw":
            new = v4.new_raw_cell(cell.source)
        else:
            source, n = _strip_installs(cell.source)
            installs += n
            new = v4.new_code_cell(source)
            tags = [t for t in cell.tags if t not in ("parameters", "pipeline-parameters")]
            if plan.role == "parameters" and not params_seen:
                params_seen = True
                tags.insert(0, "parameters")
            if tags:
                new.metadata["tags"] = tags
        new.metadata[META] = {"cell": cell.index}
        nb.cells.append(new)
        if plan.role == "parameters" and tags and tags[0] == "parameters":
            fix = [literal_source(k, v) for k, v in rendered.items()]
            if overrides and derived:
                again = derived_statements(cell.source, param_names)
                if again:
                    fix.append(again)
                    result.notes.append(
                        f"cell {cell.index}: derived values recomputed from the given "
                        "parameters, as the pipeline does"
                    )
            if fix:
                extra = v4.new_code_cell(
                    "# nb2pipe verify: parameters papermill cannot render, derived values\n"
                    + "\n".join(fix)
                )
                extra.metadata["tags"] = ["nb2pipe-verify"]
                nb.cells.append(extra)
        for s in by_last.pop(cell.index, ()):
            capture = v4.new_code_cell(capture_source(capture_dir, s.name, s.outputs))
            capture.metadata["tags"] = ["nb2pipe-verify"]
            capture.metadata[META] = {"capture": s.name}
            nb.cells.append(capture)
    for _last, missing in sorted(by_last.items()):
        for s in missing:
            result.notes.append(f"step {s.name!r}: its last cell is not in the notebook")
    if overrides and not params_seen:
        raise ValueError("parameters were given but the notebook has no parameters cell")
    if skipped:
        result.notes.append(f"{skipped} skip cell(s) left out")
    if installs:
        result.notes.append(f"{installs} package install line(s) left out")
    return result
