"""What generated pipelines import. Light imports only: no nbformat, jinja2 or typer, and
none of pandas, numpy, pyarrow, joblib, rich or matplotlib until a value or a display
needs them. The runner and the store load on first use, so importing the DAG's classes
(as every generated pipeline.py does) or the metrics rules (as the compiler does) is cheap."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"  # nb2pipe-runtime's, and nb2pipe's: they are released together

from nb2pipe.runtime.errors import GateFailed, UsageError
from nb2pipe.runtime.gates import check
from nb2pipe.runtime.spec import SPEC_VERSION, Param, Pipeline, Step

_LAZY = {
    "build_parser": "nb2pipe.runtime.options",
    "RunConfig": "nb2pipe.runtime.plan",
    "RunPlan": "nb2pipe.runtime.plan",
    "prepare": "nb2pipe.runtime.plan",
    "RunResult": "nb2pipe.runtime.runner",
    "main": "nb2pipe.runtime.runner",
    "run": "nb2pipe.runtime.runner",
    "ArtifactRef": "nb2pipe.runtime.store",
    "ArtifactStore": "nb2pipe.runtime.store",
    "LocalStore": "nb2pipe.runtime.store",
}

__all__ = [
    "SPEC_VERSION",
    "ArtifactRef",
    "ArtifactStore",
    "GateFailed",
    "RunConfig",
    "RunPlan",
    "LocalStore",
    "Param",
    "Pipeline",
    "RunResult",
    "Step",
    "UsageError",
    "build_parser",
    "check",
    "main",
    "prepare",
    "run",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nb2pipe.runtime' has no attribute {name!r}")
