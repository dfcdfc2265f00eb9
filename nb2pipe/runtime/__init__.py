"""What generated pipelines import. Light imports only: no nbformat, jinja2 or typer, and
none of pandas, numpy, pyarrow, joblib, rich or matplotlib until a value or a display
needs them."""

from nb2pipe.runtime.errors import GateFailed, UsageError
from nb2pipe.runtime.gates import check
from nb2pipe.runtime.options import build_parser
from nb2pipe.runtime.runner import RunResult, main, run
from nb2pipe.runtime.spec import SPEC_VERSION, Param, Pipeline, Step
from nb2pipe.runtime.store import ArtifactRef, ArtifactStore, LocalStore

__all__ = [
    "SPEC_VERSION",
    "ArtifactRef",
    "ArtifactStore",
    "GateFailed",
    "LocalStore",
    "Param",
    "Pipeline",
    "RunResult",
    "Step",
    "UsageError",
    "build_parser",
    "check",
    "main",
    "run",
]
