"""check: `convert --check` for several notebooks at once (the pre-commit hook's command)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from nb2pipe.frontends.cli._common import app, err, guard, state

# NOTEBOOK:OUTPUT, the notebook ending in .ipynb or .py (so a drive letter is not a separator)
_PAIR = re.compile(r"(?P<notebook>.+?\.(?:ipynb|py)):(?P<output>.+)")


def split_pair(arg: str) -> tuple[str, str | None]:
    """``notebooks/wine.ipynb:pipelines/wine`` -> (notebook, output); a notebook alone keeps
    convert's default output folder."""
    m = _PAIR.fullmatch(arg)
    return (m["notebook"], m["output"]) if m else (arg, None)


def check_one(arg: str, *, quiet: bool) -> int:
    """0 up to date, 1 stale (the stale files named), 2 the notebook does not convert."""
    from nb2pipe import api
    from nb2pipe.errors import Nb2pipeError

    notebook, output = split_pair(arg)
    try:
        _, out, stale = api.convert(notebook, output, check=True)
    except Nb2pipeError as exc:
        if state["debug"]:
            raise
        err(f"error: {exc}")
        return exc.exit_code
    if not stale:
        if not quiet:
            typer.echo(f"{out.as_posix()} is up to date with {notebook}")
        return 0
    what = ", ".join(stale) if out.is_dir() else "no such folder"
    err(f"error: {out.as_posix()} is out of date with {notebook}: {what}")
    err(f"  hint: run `nb2pipe convert {notebook} -o {out.as_posix()}` and add the changes")
    return 1


@app.command()
def check(
    notebooks: Annotated[
        list[str],
        typer.Argument(
            metavar="NOTEBOOK[:OUTPUT]",
            help="Notebooks and their package folders (default: convert's pipelines/<name>).",
            show_default=False,
        ),
    ],
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print problems only.")] = False,
) -> None:
    """Check that each notebook's package is up to date, writing nothing: `convert --check`
    for several notebooks (the pre-commit hook nb2pipe-check). Exit 1 naming the stale files,
    2 when a notebook does not convert."""
    raise typer.Exit(guard(lambda: max(check_one(a, quiet=quiet) for a in notebooks)))
