"""Checks of validation gates. Generated gate steps call ``check`` where the notebook had
``assert``, so the checks hold under ``python -O`` too and a failure names its cell."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any

from nb2pipe.runtime.errors import GateFailed

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6


def summary(value: Any) -> str:
    """A short, one-line description of a value for a failure message."""
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(shape, property):
        kind = type(value).__name__
        return f"<{kind} shape={tuple(shape)}>"
    return " ".join(_repr.repr(value).split())


def check(
    condition: Any,
    message: Any = None,
    *,
    text: str,
    cell: int,
    line: int,
    values: Mapping[str, Any] | None = None,
) -> None:
    """Raise GateFailed unless `condition` holds (the notebook's ``assert``)."""
    if condition:
        return
    shown = ", ".join(f"{k}={summary(v)}" for k, v in (values or {}).items())
    parts = [f"check failed (cell {cell}, line {line}): assert {text}"]
    if message is not None:
        parts.append(f"message: {message}")
    if shown:
        parts.append(f"values: {shown}")
    error = GateFailed("; ".join(parts))
    error.cell, error.line, error.text = cell, line, text  # type: ignore[attr-defined]
    error.values = {k: summary(v) for k, v in (values or {}).items()}  # type: ignore[attr-defined]
    raise error
