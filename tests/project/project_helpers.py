"""Helpers of the daily-use tests (issue 15): a project folder with a notebook in a
subfolder, and nb2pipe run as a user types it, in a real process.

(A uniquely named module: test folders import their helpers by name.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat
from notebooks import build_notebook

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KERNEL = {"name": "python3", "language": "python", "display_name": "Python 3"}

# A pipeline whose model is plain data, so runs import no ML library: data.json holds
# {"values": [...]}; the model is a threshold, its metric an error rate.
TINY = [
    ("imports", "import json"),
    ("parameters", 'data_path = "data.json"  # the training data\nshift = 0.0'),
    ("step:load", "with open(data_path) as f:\n    values = json.load(f)['values']"),
    ("step:train model:threshold", "model = {'cut': sum(values) / len(values) + shift}"),
    ("step:evaluate", "error = sum((v > model['cut']) != (v > 5) for v in values) / len(values)"),
    ("metrics", "error  # lower"),
]


def write_notebook(path: Path, cells: Iterable[tuple[Any, str]] = TINY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build_notebook(cells), path)
    return path


def make_project(root: Path, *, pyproject: str | None = '[project]\nname = "demo"\n') -> Path:
    """root/pyproject.toml, root/notebooks/tiny.ipynb and its data.json; returns the
    notebooks folder."""
    root.mkdir(parents=True, exist_ok=True)
    if pyproject is not None:
        (root / "pyproject.toml").write_text(pyproject)
    nbs = root / "notebooks"
    write_notebook(nbs / "tiny.ipynb")
    (nbs / "data.json").write_text(json.dumps({"values": [1, 2, 3, 7, 8, 9]}))
    return nbs


def environ(extra: Mapping[str, str] | None = None, **more: str) -> dict[str, str]:
    """The environment of a user's shell: the venv's commands on PATH, no CI, no runs
    folder or registry forced by the environment."""
    drop = ("NB2PIPE_RUNS_DIR", "NB2PIPE_REGISTRY", "NB2PIPE_TRACKING", "CI", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1", COLUMNS="200")
    env.update(extra or {})
    env.update(more)
    return env


def sh(
    cwd: Path, *cmd: str, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """A command as typed in a shell in ``cwd`` (``nb2pipe ...``, ``python -m ...``)."""
    argv = list(cmd)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif argv[0] == "nb2pipe":
        argv[0] = str(BIN / "nb2pipe")
    return subprocess.run(
        argv, cwd=cwd, env=dict(env or environ()), capture_output=True, text=True, timeout=timeout
    )


def run_ids(runs: Path) -> list[str]:
    return sorted(p.parent.name for p in runs.glob("*/run.json"))


def record(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run.json").read_text())
