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

# nb2pipe's own exporters, also listed in pyproject.toml: used when the installed metadata
# is older than the checkout (an editable install not reinstalled since they were added).
_BUILTIN = {
    "airflow": "nb2pipe.exporters.airflow:AirflowExporter",
    "kfp": "nb2pipe.exporters.kfp:KfpExporter",
    "github-actions": "nb2pipe.exporters.github_actions:GithubActionsExporter",
}

__all__ = ["GROUP", "ExportError", "ExportResult", "Exporter", "available", "export", "get"]


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Names of the installed exporters."""
    return sorted(set(_BUILTIN) | set(_entry_points()))


def get(name: str) -> Exporter:
    """The exporter registered under ``name`` (imported now)."""
    eps = _entry_points()
    try:
        if name in eps:
            cls = eps[name].load()
        elif name in _BUILTIN:
            import importlib

            module, _, attr = _BUILTIN[name].partition(":")
            cls = getattr(importlib.import_module(module), attr)
        else:
            raise ExportError(f"unknown export target {name!r} (targets: {', '.join(available())})")
    except ExportError:
        raise
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
