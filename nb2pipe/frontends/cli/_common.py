"""What every command shares: the app, the error guard, common options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from nb2pipe import __version__
from nb2pipe.errors import Nb2pipeError
from nb2pipe.runtime.errors import UsageError

app = typer.Typer(
    name="nb2pipe",
    help="Turn a tagged Jupyter notebook into a reproducible pipeline package.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
state = {"debug": False}


def err(text: str) -> None:
    typer.echo(text, err=True)


def guard(fn: Callable[[], Any]) -> Any:
    """Run a command body: our errors become one line and an exit code, never a traceback."""
    try:
        return fn()
    except (Nb2pipeError, UsageError) as exc:  # UsageError: the runtime's (settings, options)
        if state["debug"]:
            raise
        err(f"error: {' '.join(str(exc).split())}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err("interrupted")
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug in nb2pipe: say so in one line
        if state["debug"]:
            raise
        text = " ".join(str(exc).split())[:300]
        err(f"internal error: {type(exc).__name__}: {text} (rerun with --debug and report it)")
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nb2pipe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    state["debug"] = debug


def print_diagnostics(diags: Any, *, notes: bool = False) -> None:
    for d in diags:
        if d.severity != "note" or notes:
            err(str(d))


NotebookArg = Annotated[
    Path, typer.Argument(help="The notebook: .ipynb, or a jupytext percent-format .py.")
]
SplitOpt = Annotated[
    str | None,
    typer.Option(
        "--split-on",
        help="Without step tags, cut steps at headings of this level: h1, h2 or h3 "
        "(default: the shallowest level below the title).",
    ),
]

SkipDefsOpt = Annotated[
    bool,
    typer.Option(
        "--include-skip-definitions",
        help="Keep the assignments of skip cells that define names the pipeline reads.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


RunsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir",
        help="Where runs are recorded (default: $NB2PIPE_RUNS_DIR, else the project's runs "
        "folder: see `nb2pipe run --help`).",
        show_default=False,
    ),
]


def runs_folder(given: Path | None, *, say: bool) -> Path:
    """The runs folder (``--runs-dir``, else the project's); with ``say``, one line on
    stdout saying which and why (errors name it too)."""
    from nb2pipe.runtime.project import runs_location

    where = runs_location(given)
    if say:
        typer.echo(f"runs folder: {where}")
    return where.path


def registry_folder(
    tracking: str | None, registry: Path | None, given: Path | None, *, say: bool
) -> Path:
    """The runs folder for the registry commands; with ``say``, which registry they read."""
    import os

    from nb2pipe.mlops.registry import REGISTRY_ENV, default_tracking
    from nb2pipe.runtime.project import runs_location

    where = runs_location(given)
    if say and (tracking or default_tracking()).lower() == "local":
        if registry is not None:
            typer.echo(f"registry: {registry} (--registry)")
        elif os.environ.get(REGISTRY_ENV):
            typer.echo(f"registry: {os.environ[REGISTRY_ENV]} (${REGISTRY_ENV})")
        else:
            typer.echo(f"registry: {where.path / 'registry'} (runs folder: {where.why})")
    return where.path


def open_registry(
    tracking: str | None,
    registry: Path | None,
    runs_dir: Path | None,
    tracking_uri: str | None,
    *,
    say: bool,
) -> Any:
    """The registry the models commands' options name (with ``say``: which one)."""
    from nb2pipe.mlops.registry import open_registry as open_backend

    where = registry_folder(tracking, registry, runs_dir, say=say)
    return open_backend(tracking, registry=registry, runs_dir=where, uri=tracking_uri)
