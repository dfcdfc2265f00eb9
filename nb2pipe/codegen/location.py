"""Generated packages on disk: their import path and root, and importing their PIPELINE.

Light on purpose (no compiler, no typer, no Jinja2): `nb2pipe run DIR` imports this and
the runtime only, so it starts about as fast as `python -m <package>`.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from nb2pipe.codegen.render import IDENT
from nb2pipe.codegen.writeplan import recorded_module
from nb2pipe.errors import OutputError
from nb2pipe.runtime.project import MARKERS


def _located(out_dir: Path) -> tuple[Path, tuple[str, ...]]:
    """(the folder `python -m` runs from, the package's dotted parts below it), found from
    the package itself: the project root above it (the nearest folder holding
    nb2pipe.toml, pyproject.toml or .git) when the folders between are identifiers.
    Outside a project: the import path its last convert recorded (so the working folder of a
    later command changes nothing), else the working folder when the package is inside it
    (`-o pipelines/wine` -> `pipelines.wine`), else the package's parent folder."""
    folder = Path(os.path.abspath(out_dir))
    for parent in folder.parents:
        if any((parent / m).exists() for m in MARKERS):
            parts = folder.relative_to(parent).parts
            if all(IDENT.fullmatch(p) for p in parts):
                return parent, parts
            break
    recorded = _recorded(folder)
    if recorded:
        return recorded
    cwd = Path.cwd().resolve()
    try:
        parts = folder.resolve().relative_to(cwd).parts
    except ValueError:
        parts = ()
    if parts and all(IDENT.fullmatch(p) for p in parts):
        return cwd, parts
    return folder.parent, (folder.name,)


def _recorded(folder: Path) -> tuple[Path, tuple[str, ...]] | None:
    """(root, parts) from the module path in the package's manifest, if it still names the
    folders the package is in."""
    module = recorded_module(folder)
    if not module:
        return None
    parts = tuple(module.split("."))
    if len(parts) < len(folder.parts) and folder.parts[-len(parts) :] == parts:
        if all(IDENT.fullmatch(p) for p in parts):
            return folder.parents[len(parts) - 1], parts
    return None


def package_root(out_dir: Path) -> Path:
    """The folder `python -m <module_path>` runs from (see _located)."""
    return _located(out_dir)[0]


def module_path(out_dir: Path) -> str:
    """Dotted import path of the package, from its root (see _located)."""
    return ".".join(_located(out_dir)[1])


_LOADED: dict[str, str] = {}  # package -> digest of its sources when this process imported it


def _sources(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def load_package(directory: str | Path) -> Any:
    """Import a generated package's PIPELINE from its folder (for `nb2pipe run DIR`)."""
    folder = Path(directory)
    if not (folder / "pipeline.py").is_file():
        raise OutputError(
            "not a generated pipeline (no pipeline.py)",
            file=str(directory),
            hint="give the folder `nb2pipe convert` wrote",
        )
    root, parts = _located(folder)  # (reads the manifest once)
    dotted = ".".join(parts)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    sources = _sources(folder)
    if _LOADED.get(dotted, sources) != sources:  # reconverted since this process imported it
        for name in [m for m in sys.modules if m == dotted or m.startswith(f"{dotted}.")]:
            del sys.modules[name]
        importlib.invalidate_caches()
    _LOADED[dotted] = sources
    try:
        module = importlib.import_module(f"{dotted}.pipeline")
    except Exception as exc:
        raise OutputError(
            f"cannot import {dotted}.pipeline: {type(exc).__name__}: {exc}", file=str(directory)
        ) from None
    if Path(module.__file__ or "").resolve().parent != folder.resolve():
        raise OutputError(
            f"importing {dotted!r} finds another package ({module.__file__})",
            file=str(directory),
            hint="rename the folder or run from another directory",
        )
    return module.PIPELINE
