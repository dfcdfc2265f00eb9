"""Exporters: the same pipeline for an orchestrator or a CI (Airflow, KFP, GitHub Actions).

Exporters are plugins in the entry-point group ``nb2pipe.exporters`` (nbconvert's pattern),
looked up when first asked for, never imported before::

    [project.entry-points."nb2pipe.exporters"]
    airflow = "nb2pipe.exporters.airflow:AirflowExporter"

A third-party package adds a target the same way: a subclass of
:class:`nb2pipe.exporters.base.Exporter` under a name of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2pipe.exporters.base import Exporter, ExportError, ExportResult

GROUP = "nb2pipe.exporters"

__all__ = ["GROUP", "ExportError", "ExportResult", "Exporter", "available", "export", "get"]


def available() -> list[str]:
    """Names of the installed exporters."""
    from nb2pipe.runtime import entrypoints

    return sorted(entrypoints.declared(GROUP))


def get(name: str) -> Exporter:
    """The exporter registered under ``name`` (imported now)."""
    from nb2pipe.runtime import entrypoints

    try:
        cls = entrypoints.load(GROUP, name)
    except KeyError:
        raise ExportError(
            f"unknown export target {name!r} (targets: {', '.join(available())})"
        ) from None
    except Exception as exc:  # a broken plugin: name it
        raise ExportError(
            f"the exporter {name!r} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Exporter)):
        raise ExportError(f"the exporter {name!r} is not an nb2pipe Exporter ({cls!r})")
    return cls()


def export(
    target: str,
    directory: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[ExportResult, list[str]]:
    """Export the generated package in ``directory`` for ``target``: render, write, then
    the exporter's last steps. Returns the result (files, notes) and what those steps
    said."""
    from nb2pipe.exporters.base import load_context, write_files

    exporter = get(target)
    opts = exporter.check_options(dict(options or {}))
    ctx = load_context(directory)
    out = Path(output) if output is not None else exporter.default_output(ctx, opts)
    result = exporter.render(ctx, out, opts)
    write_files(result.files)
    said = exporter.finish(ctx, out, opts, result)
    return result, said
