"""Is a package older than its notebook? The hash ``convert`` records in ``pipeline.py``
(cells' types, sources and tags: not outputs, so running the notebook changes nothing)
compared with the notebook on disk.

The runtime computes it from the file with :mod:`json` alone for nbformat 4 notebooks, and
asks the compiler's reader only for the rest (jupytext percent scripts, nbformat 3), when
it is installed (entry point ``notebook`` of the group ``nb2pipe.readers``). A notebook that is missing or unreadable is not checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nb2pipe.runtime.errors import UsageError

CI_ENV = "CI"
READERS = "nb2pipe.readers"  # entry-point group: ``notebook`` reads any notebook format
FRESH = "nb2pipe-fresh.txt"  # in the package's __pycache__: "<file sha256> <cells digest>"


def cells_digest(cells: Iterable[tuple[str, str, Sequence[str]]]) -> str:
    """The notebook hash: (cell type, source, tags) per cell, in order."""
    content = [[kind, source, list(tags)] for kind, source, tags in cells]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def _plain_cell(cell: Any) -> tuple[str, str, tuple[str, ...]]:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    tags = tuple(str(t) for t in (cell.get("metadata") or {}).get("tags") or ())
    return (
        cell.get("cell_type", "code"),
        source.replace("\r\n", "\n").replace("\r", "\n"),
        tags,
    )


def notebook_digest(path: Path) -> str | None:
    """The hash of the notebook at ``path`` as ``convert`` computes it, or None."""
    if path.suffix != ".py":
        try:
            raw = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (OSError, ValueError, RecursionError):
            return None
        if isinstance(raw, dict) and raw.get("nbformat") == 4:
            try:
                return cells_digest(_plain_cell(c) for c in raw.get("cells") or ())
            except (AttributeError, TypeError, UnicodeEncodeError):
                return None
    from nb2pipe.runtime import entrypoints

    try:  # the compiler's reader, declared by nb2pipe (the runtime imports nothing outside)
        read = entrypoints.load(READERS, "notebook")
    except (KeyError, ImportError):  # the runtime without the compiler: cannot tell
        return None
    try:
        nb = read(path)
    except Exception:  # noqa: BLE001 - unreadable: not checked (convert will say why)
        return None
    return cells_digest((c.cell_type, c.source, c.tags) for c in nb.cells)


def in_ci(environ: Any = os.environ) -> bool:
    return str(environ.get(CI_ENV, "")).strip().lower() in ("true", "1", "yes")


def _shown(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def check(pipeline: Any, pkg_dir: Path, *, strict: bool) -> str | None:
    """None when the package matches its notebook (or the notebook cannot be read); else
    the warning to print. Raises UsageError when ``strict``."""
    if not pipeline.notebook or not pipeline.notebook_sha256:
        return None
    notebook = (pkg_dir / pipeline.notebook).resolve()
    try:
        raw = hashlib.sha256(notebook.read_bytes()).hexdigest()
    except OSError:
        return None  # missing or unreadable: not checked
    seen = pkg_dir / "__pycache__" / FRESH
    try:
        if seen.read_text(encoding="utf-8") == f"{raw} {pipeline.notebook_sha256}":
            return None  # these very bytes were found fresh: nothing to parse again
    except OSError:
        pass
    digest = notebook_digest(notebook)
    if digest is None:
        return None
    if digest == pipeline.notebook_sha256:
        # remembered beside the bytecode: a percent script is read by jupytext, whose
        # imports (nbformat, jsonschema) cost a second or more on every run otherwise
        try:
            seen.parent.mkdir(exist_ok=True)
            seen.write_text(f"{raw} {digest}", encoding="utf-8")
        except OSError:
            pass  # a read-only package: checked in full each time
        return None
    command = ["nb2pipe", "convert", _shown(notebook), "-o", _shown(pkg_dir)]
    if pipeline.name != notebook.stem:
        command += ["--name", pipeline.name]
    message = (
        f"{_shown(pkg_dir)} is stale: {_shown(notebook)} changed since it was converted; "
        f"run `{shlex.join(command)}`"
    )
    if strict:
        raise UsageError(f"{message} (refused under --strict and when CI=true)")
    return message


def strict(given: bool | None, pkg_dir: Path) -> bool:
    """``--strict`` if given, else the project's ``strict`` setting, else ``CI=true``."""
    if given is not None:
        return given
    from nb2pipe.runtime.project import setting

    return bool(setting("strict", pkg_dir)) or in_ci()
