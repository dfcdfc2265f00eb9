"""The facade the CLI and tests call: convert(), inspect(). No printing here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nb2pipe import compiler
from nb2pipe.codegen import package as codegen
from nb2pipe.compiler.model import Pipeline


def load(
    path: str | Path,
    *,
    split_on: str | None = None,
    strict: bool = False,
    include_skip_definitions: bool = False,
) -> Pipeline:
    """The Pipeline model of a notebook (``nb2pipe.compiler.compile``'s)."""
    return compiler.compile(
        path, split_on=split_on, strict=strict, include_skip_definitions=include_skip_definitions
    ).pipeline


def load_package(directory: str | Path) -> Any:
    """Import a generated package's PIPELINE from its folder (for `nb2pipe run DIR`)."""
    import importlib
    import sys

    from nb2pipe.codegen.package import module_path
    from nb2pipe.errors import OutputError

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


def default_output(pipe: Pipeline) -> Path:
    return Path("pipelines") / pipe.name


def convert(
    path: str | Path,
    out_dir: str | Path | None = None,
    *,
    name: str | None = None,
    split_on: str | None = None,
    strict: bool = False,
    force: bool = False,
    check: bool = False,
    include_skip_definitions: bool = False,
) -> tuple[Pipeline, Path, list[str]]:
    """Convert a notebook into a package. With `check`, write nothing and return the stale
    files instead of the written ones."""
    pipe = load(
        path, split_on=split_on, strict=strict, include_skip_definitions=include_skip_definitions
    )
    if name:
        from dataclasses import replace

        from nb2pipe.compiler.tags import step_name

        pipe = replace(pipe, name=step_name(name, file=str(path), cell=0, what="--name"))
    out = Path(out_dir) if out_dir else default_output(pipe)
    files = codegen.write(pipe, out, force=force, check=check)
    return pipe, out, files
