"""Helpers of the exporter tests (conftest.py holds only fixtures)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent / "engines") not in sys.path:
    sys.path.insert(0, str(HERE.parent / "engines"))

import engine_envs  # noqa: E402  (re-exported to the tests)

engine_environ = engine_envs.engine_environ

REPO = HERE.parents[1]
WINE = REPO / "sample_notebooks" / "wine_classifier.ipynb"
TINY = HERE / "notebooks" / "tiny_gate.py"
RANDOM_CHAIN = HERE / "notebooks" / "random_chain.py"


def convert(notebook: Path, folder: Path, stem: str) -> Path:
    """Convert ``notebook`` into ``folder/<stem>_<random>`` (a package name no other test
    has imported in this process)."""
    from nb2pipe import api

    out = folder / f"{stem}_{uuid.uuid4().hex[:8]}"
    api.convert(notebook, out)
    return out


def local_run(package: Path, runs_dir: Path, **params: Any) -> Any:
    """The reference: ``nb2pipe.runtime.run`` in this process."""
    from nb2pipe import api
    from nb2pipe.runtime import run

    pipeline = api.load_package(package)
    return run(pipeline, params=params, runs_dir=runs_dir, progress="none", quiet=True)


def script_value(notebook: Path, name: str) -> Any:
    """A percent-format notebook run top to bottom as a script, in a fresh process: the
    value `name` has at the end (what the notebook computes)."""
    code = f"import json, runpy; print(json.dumps(runpy.run_path({str(notebook)!r})[{name!r}]))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=notebook.parent, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_engine(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> Any:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
