"""The `nb2pipe` command: options, output and exit codes. No logic lives here.

Each module registers its verbs on the one typer app; their bodies import what they
need only when they run, so `nb2pipe --help` starts fast.
"""

from __future__ import annotations

import sys

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

__all__ = ["app", "main"]


def main() -> None:
    # jsonschema, which nbformat imports, compiles an IRI grammar (about 1 s) when the
    # optional rfc3987-syntax is installed (JupyterLab brings it); the notebook schema does
    # not use that format, so this process goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    app(prog_name="nb2pipe")
