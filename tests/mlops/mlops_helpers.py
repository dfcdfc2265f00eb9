"""Helpers of the MLOps tests (one uniquely named module; no imports from conftest files).

Notebooks are built with nbformat, converted by the real compiler into a package under a
temporary folder, and run either in this process (``run_inline``: fast, for tests that
need no sklearn) or with ``python -m`` in a subprocess (``run_cli``: integration tests).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
from notebooks import build_notebook

REPO = Path(__file__).resolve().parents[2]
KERNEL = {"name": "python3", "language": "python", "display_name": "Python 3"}

# A notebook whose "model" is plain data, so in-process runs import no ML library.
# data.json holds {"values": [...]}; the model is a threshold, its metric an error rate.
TINY = [
    ("imports", "import json"),
    ("parameters", 'data_path = "data.json"  # the training data\nshift = 0.0\nmax_error = 0.5'),
    ("step:load", "with open(data_path) as f:\n    values = json.load(f)['values']"),
    ("validate", "assert len(values) >= 3, 'too few rows'\nassert all(v >= 0 for v in values)"),
    ("step:train model:threshold", "model = {'cut': sum(values) / len(values) + shift}"),
    (
        "step:evaluate",
        "error = sum((v > model['cut']) != (v > 5) for v in values) / len(values)\n"
        "score = 1 - error",
    ),
    ("metrics", "error  # lower\nscore"),
    ("validate", "assert error <= max_error, f'error {error} too high'"),
]

# The same shape with scikit-learn and a CSV: gates on the data and on the model.
SKLEARN = [
    (
        "imports",
        "import pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.model_selection import train_test_split\n"
        "from sklearn.metrics import accuracy_score, log_loss",
    ),
    (
        "parameters",
        'data_path = "wine.csv"  # training data\n'
        "C = 1.0  # inverse regularisation\n"
        "min_accuracy = 0.5  # model gate",
    ),
    ("step:load", "df = pd.read_csv(data_path)"),
    (
        "validate",
        'assert {"alcohol", "proline", "target"} <= set(df.columns), "missing columns"\n'
        'assert not df.isna().any().any(), "the data contains nulls"\n'
        'assert df["alcohol"].between(10, 16).all(), "alcohol outside 10-16 %"',
    ),
    (
        "step:split",
        'X = df.drop(columns="target")\n'
        'y = df["target"]\n'
        "X_train, X_test, y_train, y_test = train_test_split(\n"
        "    X, y, test_size=0.3, random_state=0, stratify=y\n"
        ")",
    ),
    (
        "step:train model:wine",
        "clf = LogisticRegression(C=C, max_iter=5000)\nclf.fit(X_train, y_train)",
    ),
    (
        "step:evaluate",
        "accuracy = float(accuracy_score(y_test, clf.predict(X_test)))\n"
        "loss = float(log_loss(y_test, clf.predict_proba(X_test)))",
    ),
    ("metrics", "accuracy  # higher\nloss"),
    ("validate", 'assert accuracy >= min_accuracy, f"accuracy {accuracy:.3f} below the gate"'),
]


def convert(folder: Path, cells: Sequence[tuple[str, str]], name: str | None = None) -> str:
    """Write the notebook to folder/nb/ and its package to folder/<name>; return the
    package name (unique, so packages of several tests never clash in sys.modules)."""
    from nb2pipe import api

    name = name or f"mlpkg_{uuid.uuid4().hex[:10]}"
    nb_dir = folder / "nb"
    nb_dir.mkdir(parents=True, exist_ok=True)
    path = nb_dir / "model.ipynb"
    nbformat.write(build_notebook(cells), path)
    api.convert(path, folder / name)
    return name


def write_values(folder: Path, values: Sequence[float]) -> None:
    (folder / "nb" / "data.json").write_text(json.dumps({"values": list(values)}))


def pipeline(folder: Path, package: str) -> Any:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(f"{package}.pipeline").PIPELINE


def run_inline(folder: Path, package: str, **kwargs: Any) -> Any:
    from nb2pipe.runtime import run

    kwargs.setdefault("runs_dir", folder / "runs")
    kwargs.setdefault("progress", "none")
    return run(pipeline(folder, package), **kwargs)


def forget(package: str) -> None:
    for mod in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[mod]


def env(folder: Path) -> dict[str, str]:
    path = os.pathsep.join([str(folder), str(REPO)])
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}


def run_cli(
    folder: Path, package: str, *args: str, optimize: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python [-O] -m <package> --runs-dir runs ARGS`` in ``folder``."""
    cmd = [sys.executable, *(["-O"] if optimize else []), "-m", package, "--runs-dir", "runs"]
    return subprocess.run(
        cmd + list(args), cwd=folder, env=env(folder), capture_output=True, text=True, timeout=600
    )


def nb2pipe(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``nb2pipe`` command, in ``folder``."""
    cmd = [sys.executable, "-c", "from nb2pipe.frontends.cli import main; main()", *args]
    return subprocess.run(
        cmd, cwd=folder, env=env(folder), capture_output=True, text=True, timeout=600
    )


def record(folder: Path, run_id: str) -> dict[str, Any]:
    return json.loads((folder / "runs" / run_id / "run.json").read_text())


def wine_csv(path: Path, *, rows: slice | None = None, **changes: Any) -> None:
    """scikit-learn's wine data as CSV (a subset of rows; columns shifted or nulled)."""
    from sklearn.datasets import load_wine

    df = load_wine(as_frame=True).frame
    if rows is not None:
        df = df.iloc[rows]
    for column, change in changes.items():
        if change is None:
            df.loc[df.index[:5], column] = None
        else:
            df[column] = df[column] + change
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
