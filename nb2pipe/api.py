"""The facade the CLI and tests call: convert(), inspect(). No printing here."""

from __future__ import annotations

from pathlib import Path

from nb2pipe import analysis, codegen, notebook, tags
from nb2pipe.errors import AnalysisError
from nb2pipe.model import Pipeline
from nb2pipe.packages import load_package

__all__ = ["convert", "default_output", "load", "load_package"]


def load(path: str | Path, *, split_on: str | None = None, strict: bool = False) -> Pipeline:
    """Read, tag and analyse a notebook: the whole compiler front end."""
    nb = notebook.read(path)
    layout = tags.assign(nb, split_on=split_on)
    try:
        return analysis.analyze(layout, strict=strict)
    except RecursionError:
        raise AnalysisError(
            "the code is nested too deeply to analyse",
            file=str(path),
            hint="split the deepest expression into several statements",
        ) from None


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
) -> tuple[Pipeline, Path, list[str]]:
    """Convert a notebook into a package. With `check`, write nothing and return the stale
    files instead of the written ones."""
    pipe = load(path, split_on=split_on, strict=strict)
    if name:
        from dataclasses import replace

        from nb2pipe.tags import step_name

        pipe = replace(pipe, name=step_name(name, file=str(path), cell=0, what="--name"))
    out = Path(out_dir) if out_dir else default_output(pipe)
    files = codegen.write(pipe, out, force=force, check=check)
    return pipe, out, files
