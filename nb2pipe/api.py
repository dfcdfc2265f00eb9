"""The facade the CLI and tests call: convert(), inspect(). No printing here."""

from __future__ import annotations

from pathlib import Path

from nb2pipe import __version__, compiler
from nb2pipe.codegen import package as codegen
from nb2pipe.codegen.location import load_package
from nb2pipe.compiler.model import Pipeline

__all__ = ["convert", "default_output", "load", "load_package"]


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


def default_output(pipe: Pipeline) -> Path:
    """``<output>/<name>`` when the notebook's project sets ``output`` (relative to its
    root), else ``pipelines/<name>``."""
    from nb2pipe.runtime.project import load as load_project

    folder = load_project(Path(pipe.notebook.path).resolve().parent).path("output")
    return (folder or Path("pipelines")) / pipe.name


def convert(
    path: str | Path,
    out_dir: str | Path | None = None,
    *,
    name: str | None = None,
    split_on: str | None = None,
    strict: bool | None = None,
    force: bool = False,
    check: bool = False,
    include_skip_definitions: bool = False,
) -> tuple[Pipeline, Path, list[str]]:
    """Convert a notebook into a package. With `check`, write nothing and return the stale
    files instead of the written ones. ``strict=None``: the project's ``strict`` setting."""
    if strict is None:
        from nb2pipe.runtime.project import setting

        strict = bool(setting("strict", Path(path).resolve().parent))
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


def cached_package(
    path: str | Path, runs_dir: str | Path | None = None
) -> tuple[Path, Pipeline | None]:
    """The package of a notebook for ``nb2pipe run NOTEBOOK``: converted into
    ``<runs folder>/packages/<name>-<key>/<name>`` (key: the notebook's path and hash and
    nb2pipe's version), reused while they are unchanged. Returns (folder, the Pipeline when
    it was converted now, else None)."""
    import hashlib
    import json
    import os
    import shutil

    from nb2pipe.runtime.freshness import notebook_digest
    from nb2pipe.runtime.project import runs_location

    def key_of(digest: str) -> str:
        return hashlib.sha256(json.dumps([str(nb_path), digest, __version__]).encode()).hexdigest()[
            :16
        ]

    nb_path = Path(path).resolve()
    base = runs_location(runs_dir, start=nb_path.parent).path / "packages"
    digest = notebook_digest(nb_path)  # the hash convert records, read without compiling
    if digest is not None:
        for found in sorted(base.glob(f"*-{key_of(digest)}/*/pipeline.py")):
            return found.parent, None  # converted before: no compile on each run
    pipe = load(path)
    key = key_of(codegen.notebook_hash(pipe.notebook))
    home = base / f"{pipe.name}-{key}"  # not an identifier: never imported as a package
    if (home / pipe.name / "pipeline.py").is_file():
        return home / pipe.name, None
    scratch = base / f".{pipe.name}-{key}.{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        codegen.write(pipe, scratch / pipe.name)
        os.replace(scratch, home)
    except OSError:
        if not (home / pipe.name / "pipeline.py").is_file():  # another run put it there
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return home / pipe.name, pipe
