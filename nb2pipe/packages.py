"""Generated packages on disk: their import path, and importing their PIPELINE.

Light on purpose (no compiler, no typer): `nb2pipe run DIR` imports this and the runtime
only, so it starts about as fast as `python -m <package>`.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from nb2pipe.errors import OutputError
from nb2pipe.render import IDENT


def module_path(out_dir: Path) -> str:
    """Dotted import path of the output folder, relative to the working directory if inside."""
    shown = Path(os.path.abspath(out_dir))
    cwd = Path.cwd().resolve()
    for path in (shown, out_dir.resolve()):
        try:
            parts = path.relative_to(cwd).parts
        except ValueError:
            continue
        if parts and all(IDENT.fullmatch(p) for p in parts):
            return ".".join(parts)
        break
    return shown.name


def load_package(directory: str | Path) -> Any:
    """Import a generated package's PIPELINE from its folder (for `nb2pipe run DIR`)."""
    folder = Path(directory)
    if not (folder / "pipeline.py").is_file():
        raise OutputError(
            "not a generated pipeline (no pipeline.py)",
            file=str(directory),
            hint="give the folder `nb2pipe convert` wrote",
        )
    dotted = module_path(folder)
    root = Path.cwd() if "." in dotted else folder.resolve().parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
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


def run_command(directory: str | Path | None, args: list[str]) -> int:
    """`nb2pipe run DIR [options]`: the runtime's exit code (help without a folder)."""
    from nb2pipe.runtime import build_parser, main

    if directory is None or str(directory) in ("-h", "--help"):
        build_parser(prog="nb2pipe run DIR").print_help()
        return 0 if directory is not None or "--help" in args else 2
    return main(load_package(directory), args, supervised=True)
