"""The mutation guard: did a step change an input in place that it does not list as an
output (so later steps would not see the change the notebook made)?

Each guarded input is fingerprinted (:mod:`nb2pipe.runtime.fingerprint`) before and after
the step; a fingerprint known to hold (the digest of an output handed over in memory, or
the "after" of the previous step that read it) is reused instead of hashing it again.
When an array or frame stored as .npy/Arrow seems changed, it is compared exactly with
its stored artifact before the step is blamed (pandas may reorganise its memory without
changing a value). A value that cannot be fingerprinted is not checked, with a note.
A failure names the call that most likely changed the input, found in the step's code.
"""

from __future__ import annotations

import ast
import linecache
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.runtime.fingerprint import Unhashable, fingerprint
from nb2pipe.runtime.store import DATA_FORMATS, ArtifactRef
from nb2pipe.runtime.tracemap import Location, cell_of, refine


@dataclass
class Check:
    """Fingerprints of the guarded inputs, and what could not be checked."""

    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _fp(var: str, value: Any, notes: list[str]) -> str | None:
    skipped: list[str] = []
    try:
        digest = fingerprint(value, skipped)
    except Unhashable as exc:
        notes.append(f"input {var!r} was not checked for in-place changes: {exc}")
        return None
    if skipped:
        notes.append(f"input {var!r}: not compared: {'; '.join(skipped)}")
    return digest


def before(loaded: dict[str, Any], guarded: list[str], known: dict[str, str]) -> Check:
    import time

    start = time.perf_counter()
    check = Check()
    for var in guarded:
        digest = known.get(var) or _fp(var, loaded[var], check.notes)
        if digest is not None:
            check.before[var] = digest
    check.seconds = time.perf_counter() - start
    return check


def _same(a: Any, b: Any) -> bool:
    """Exact equality of two arrays or two pandas objects (dtypes, labels, values)."""
    import numpy as np

    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        try:
            return bool(np.array_equal(a, b, equal_nan=True))
        except TypeError:
            return bool(np.array_equal(a, b))
    import pandas as pd

    try:
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True, check_freq=True)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True, check_freq=True)
    except (AssertionError, TypeError, ValueError):
        return False
    return bool(a.attrs == b.attrs)


def after(
    check: Check,
    loaded: dict[str, Any],
    ref_of: Callable[[str], ArtifactRef],
    load: Callable[[ArtifactRef], Any],
) -> list[str]:
    """The guarded inputs the step changed; ``check.after`` gets the fingerprints of the
    unchanged ones (they hold for the next step that reads them)."""
    import time

    start = time.perf_counter()
    changed: list[str] = []
    for var, digest in check.before.items():
        now = _fp(var, loaded[var], [])
        if now == digest:
            check.after[var] = now
            continue
        try:
            ref = ref_of(var)
            if now is not None and ref.format in DATA_FORMATS and _same(loaded[var], load(ref)):
                check.after[var] = now  # the same values in another memory layout
                continue
        except Exception:  # noqa: BLE001, S110 - no stored copy to compare with: changed
            pass
        changed.append(var)
    check.seconds += time.perf_counter() - start
    return changed


# --- which call changed it ------------------------------------------------------------------


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


#: builtins that never change what they are given
_PURE = frozenset(
    "abs all any bool dict enumerate float format frozenset hash id int isinstance iter len "
    "list max min print repr reversed round set sorted str sum tuple type zip".split()
)


def _passes(call: ast.Call, var: str) -> bool:
    if isinstance(call.func, ast.Name) and call.func.id in _PURE:
        return False
    args = [a.value if isinstance(a, ast.Starred) else a for a in call.args]
    args += [k.value for k in call.keywords]
    return any(_root(a) == var for a in args)


def likely_call(package_dir: str, step: Any, var: str, notebook: str) -> Location | None:
    """The call in the step's code most likely to have changed ``var``: a method called on
    it (``var.m(...)``, ``var.a.m(...)``), else a call it is passed to (``f(var)``, not
    ``len(var)``); the first one in the code. Mapped to its notebook cell and line."""
    path = Path(package_dir) / "steps" / f"{step.name}.py"
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    ranked: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and _root(node.func.value) == var:
            ranked.append((0, node.lineno))
        elif _passes(node, var):
            ranked.append((1, node.lineno))
    if not ranked:
        return None
    lineno = min(ranked)[1]
    linecache.checkcache(str(path))
    cell, line = cell_of(str(path), lineno)
    code = source.splitlines()[lineno - 1].strip()
    loc = Location(cell, line, f"steps/{step.name}.py", lineno, code)
    return refine(loc, notebook) if cell is not None else loc
