"""The `nb2pipe` command: options, output and exit codes. No logic lives here.

Each module registers its verbs on the one typer app; their bodies import what they
need only when they run, so `nb2pipe --help` starts fast. `nb2pipe run DIR ...` does not
even build the app: it imports the package and the runtime only (see :func:`main`).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def _app() -> Any:
    from nb2pipe.frontends.cli._common import app

    # The modules register their commands; `nb2pipe --help` lists them in this order.
    # isort: off
    from nb2pipe.frontends.cli import core  # noqa: F401
    from nb2pipe.frontends.cli import precommit  # noqa: F401
    from nb2pipe.frontends.cli import viz  # noqa: F401
    from nb2pipe.frontends.cli import export  # noqa: F401
    from nb2pipe.frontends.cli import ops  # noqa: F401
    from nb2pipe.frontends.cli import serve  # noqa: F401
    # isort: on

    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return _app()
    raise AttributeError(f"module 'nb2pipe.frontends.cli' has no attribute {name!r}")


def _run(argv: list[str]) -> int:
    """`nb2pipe run DIR [options]` without typer (about 0.15 s less to start): the same
    help, messages and exit codes as the typer command in core.py."""
    from nb2pipe.errors import Nb2pipeError
    from nb2pipe.frontends.run import run_command
    from nb2pipe.runtime.errors import UsageError
    from nb2pipe.runtime.records import typed_command

    try:
        return run_command(argv[0] if argv else None, argv[1:], command=typed_command())
    except (Nb2pipeError, UsageError) as exc:  # UsageError: the project's settings
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug in nb2pipe: say so in one line
        text = " ".join(str(exc).split())[:300]
        print(
            f"internal error: {type(exc).__name__}: {text} (rerun with --debug and report it)",
            file=sys.stderr,
        )
        return 2


def main() -> None:
    # jsonschema, which nbformat imports, compiles an IRI grammar (about 1 s) when the
    # optional rfc3987-syntax is installed (JupyterLab brings it); the notebook schema does
    # not use that format, so this process goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    if sys.argv[1:2] == ["run"]:
        raise SystemExit(_run(sys.argv[2:]))
    _app()(prog_name="nb2pipe")
