"""End to end, in subprocesses, with scikit-learn and a CSV named by a path parameter:
gates under ``python -O`` and ``-j 2``, retraining when the data changes, the baseline gate
through ``nb2pipe run``, drift, ``nb2pipe.load_model``, and sample notebook (a)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlops_helpers import REPO, SKLEARN, convert, env, nb2pipe, record, run_cli, wine_csv

pytestmark = pytest.mark.integration


@pytest.fixture
def wine_pkg(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    package = convert(tmp_path, SKLEARN)
    wine_csv(tmp_path / "nb" / "wine.csv")
    yield tmp_path, package


def registry_json(folder: Path, *args: str) -> dict:
    done = nb2pipe(folder, "models", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_failing_data_gate_under_python_O_with_jobs(wine_pkg: tuple[Path, str]) -> None:
    folder, package = wine_pkg
    wine_csv(folder / "nb" / "wine.csv", proline=None)  # five nulls
    done = run_cli(folder, package, "-j", "2", "--run-id", "nulls", optimize=True)
    assert done.returncode == 1, done.stderr
    err = done.stderr
    assert "gate 'check_load' failed" in err
    assert "cell 4, line 2" in err
    assert "assert not df.isna().any().any()" in err
    assert "the data contains nulls" in err
    assert "df=<DataFrame shape=(178, 14)>" in err
    rec = record(folder, "nulls")
    assert rec["status"] == "failed" and rec["options"]["jobs"] == 2
    steps = rec["steps"]
    assert steps["load"]["status"] == "ok" and steps["check_load"]["status"] == "failed"
    assert steps["check_load"]["error"] == {
        "kind": "gate",
        "message": steps["check_load"]["error"]["message"],
        "type": "GateFailed",
        "cell": 4,
        "line": 2,
    }
    for later in ("split", "train", "evaluate", "check_evaluate"):
        assert steps[later]["status"] == "skipped", later
    assert rec["gates"] == {"check_load": "failed", "check_evaluate": "skipped"}
    assert rec["models"] == {}
    assert not (folder / "runs" / "registry").exists()


def test_failing_model_gate_under_python_O(wine_pkg: tuple[Path, str]) -> None:
    folder, package = wine_pkg
    done = run_cli(folder, package, "-p", "min_accuracy=0.999", "--run-id", "strict", optimize=True)
    assert done.returncode == 1
    assert "gate 'check_evaluate' failed" in done.stderr
    assert "assert accuracy >= min_accuracy" in done.stderr
    assert "below the gate" in done.stderr
    assert "min_accuracy=0.999" in done.stderr and "accuracy=0.96" in done.stderr
    rec = record(folder, "strict")
    assert rec["metrics"]["accuracy"] == pytest.approx(0.963, abs=0.001)
    assert rec["models"] == {}
    assert not (folder / "runs" / "registry").exists()


def test_retraining_on_new_data(wine_pkg: tuple[Path, str]) -> None:
    folder, package = wine_pkg
    first = run_cli(folder, package, "--run-id", "v1")
    assert first.returncode == 0, first.stderr
    assert "model wine:1 registered; champion -> wine:1 (first version" in first.stdout
    again = run_cli(folder, package, "--run-id", "same")
    assert again.returncode == 0
    assert {s["status"] for s in record(folder, "same")["steps"].values()} == {"cached"}
    assert registry_json(folder, "list")[0]["versions"] == 1

    wine_csv(folder / "nb" / "wine.csv", rows=slice(20, None))  # new data arrives
    new = run_cli(folder, package, "--run-id", "v2")
    assert new.returncode == 0, new.stderr
    rec = record(folder, "v2")
    assert {s["status"] for s in rec["steps"].values()} == {"ok"}
    assert "wine.csv" in rec["steps"]["load"]["reason"]
    assert rec["models"]["wine"]["version"] == 2
    shown = registry_json(folder, "show", "wine")
    assert shown["version"]["version"] == 2 and shown["version"]["run_id"] == "v2"
    assert shown["version"]["aliases"] == ["champion"]
    assert shown["version"]["metrics"]["accuracy"] == pytest.approx(0.979, abs=0.001)
    files = shown["version"]["data"]["files"]
    assert list(files) == ["wine.csv (parameter data_path)"]
    assert shown["version"]["data"]["inputs"].keys() == {"X_train", "y_train"}

    wine_csv(folder / "nb" / "wine.csv", alcohol=5.0)  # data the gate refuses
    bad = run_cli(folder, package, "--run-id", "bad")
    assert bad.returncode == 1 and "alcohol outside 10-16 %" in bad.stderr
    shown = registry_json(folder, "show", "wine")
    assert shown["version"]["version"] == 2  # the champion stays
    assert len(shown["versions"]) == 2

    code = "import nb2pipe; m = nb2pipe.load_model('wine'); print(type(m).__name__, m.C)"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env(folder), capture_output=True, text=True
    )
    assert loaded.stdout.strip() == "LogisticRegression 1.0", loaded.stderr


def test_an_fsspec_store_url(wine_pkg: tuple[Path, str]) -> None:
    """--store file://...: the fsspec store (the code path of s3://, gs://...) with
    worker processes, the data file's digest and the model's registration; the registry
    gets the model from it, a rerun is cached, and `runs gc` refuses to clean it."""
    folder, package = wine_pkg
    old = time.time() - 60  # a file changed in the last 2 s is not remembered (racy mtime)
    os.utime(folder / "nb" / "wine.csv", (old, old))
    url = f"file://{folder / 'shared' / 'store'}"
    first = run_cli(folder, package, "-j", "2", "--store", url, "--run-id", "url")
    assert first.returncode == 0, first.stderr
    assert "model wine:1 registered" in first.stdout
    rec = record(folder, "url")
    assert rec["store"] == url and {s["status"] for s in rec["steps"].values()} == {"ok"}
    assert not (folder / "runs" / "store").exists()
    assert (folder / "runs" / "files.json").is_file()  # the data file's digest, kept local
    objects = list((folder / "shared" / "store" / "objects").glob("??/*"))
    assert {o.name.split(".")[0] for o in objects} >= {
        r["hash"] for s in rec["steps"].values() for r in s["outputs"].values()
    }
    again = run_cli(folder, package, "--store", url, "--run-id", "again")
    assert again.returncode == 0, again.stderr
    assert {s["status"] for s in record(folder, "again")["steps"].values()} == {"cached"}
    code = "import nb2pipe; m = nb2pipe.load_model('wine'); print(type(m).__name__, m.C)"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env(folder), capture_output=True, text=True
    )
    assert loaded.stdout.strip() == "LogisticRegression 1.0", loaded.stderr
    gc = nb2pipe(folder, "runs", "gc", "--keep", "1", "--runs-dir", "runs", "--store", url)
    assert gc.returncode == 2 and "runs gc cleans a store folder, not file://" in gc.stderr


def test_regression_blocks_registration(wine_pkg: tuple[Path, str]) -> None:
    folder, package = wine_pkg
    assert run_cli(folder, package).returncode == 0
    pkg_dir = str(folder / package)
    worse = nb2pipe(
        folder, "run", pkg_dir, "--runs-dir", "runs", "-p", "C=0.001",
        "--max-regression", "accuracy=0.05", "--run-id", "worse",
    )  # fmt: skip
    assert worse.returncode == 1, worse.stderr
    assert "baseline gate failed: accuracy = 0.740741 is worse than wine:1 (champion)'s" in (
        worse.stderr
    )
    rec = record(folder, "worse")
    assert rec["status"] == "failed"
    assert {s["status"] for s in rec["steps"].values()} <= {"ok", "cached"}
    assert rec["models"]["wine"] == {"registered": False, "reason": "baseline gate failed"}
    assert registry_json(folder, "list")[0]["versions"] == 1
    # loss went up too: lower is better by name, and a relative limit
    loss = nb2pipe(
        folder, "run", pkg_dir, "--runs-dir", "runs", "-p", "C=0.001",
        "--max-regression", "loss=10%", "--run-id", "loss",
    )  # fmt: skip
    assert loss.returncode == 1 and "loss = " in loss.stderr and "lower is better" in loss.stderr
    # without the baseline gate the weaker model is registered (gates passed), but the
    # champion policy keeps the better one unless told otherwise
    plain = nb2pipe(folder, "run", pkg_dir, "--runs-dir", "runs", "-p", "C=0.001")
    assert plain.returncode == 0, plain.stderr
    assert "model wine:2 registered; champion stays wine:1 (accuracy 0.740741 <" in plain.stdout
    assert registry_json(folder, "list")[0]["champion"] == 1
    forced = nb2pipe(folder, "run", pkg_dir, "--runs-dir", "runs", "-p", "C=0.001",
                     "--promote", "always")  # fmt: skip
    assert "champion wine:1 -> wine:2 (--promote always)" in forced.stdout, forced.stderr
    assert registry_json(folder, "list")[0]["champion"] == 2
    compared = nb2pipe(folder, "runs", "compare", "worse", "loss", "--json")
    assert json.loads(compared.stdout)["metrics"]["loss"]["direction"] == "lower"


def test_drift_of_new_data(wine_pkg: tuple[Path, str]) -> None:
    folder, package = wine_pkg
    assert run_cli(folder, package).returncode == 0
    wine_csv(folder / "same.csv")
    wine_csv(folder / "drifted.csv", alcohol=1.5, magnesium=25)
    same = nb2pipe(folder, "drift", "wine", "--data", "same.csv")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no drift" in same.stdout
    drifted = nb2pipe(folder, "drift", "wine", "--data", "drifted.csv", "--json")
    assert drifted.returncode == 1, drifted.stderr
    report = json.loads(drifted.stdout)
    assert report["drifted"] == ["alcohol", "magnesium"]
    table = nb2pipe(folder, "drift", "wine", "--data", "drifted.csv")
    assert table.returncode == 1 and "2 feature(s) drifted: alcohol, magnesium" in table.stdout


def test_sample_notebook_registers_its_model(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    shutil.copy(REPO / "sample_notebooks" / "wine_classifier.ipynb", tmp_path / "nb")
    from nb2pipe import api

    api.convert(tmp_path / "nb" / "wine_classifier.ipynb", tmp_path / "wine")
    done = run_cli(tmp_path, "wine", "--run-id", "a")
    assert done.returncode == 0, done.stderr
    rec = record(tmp_path, "a")
    assert rec["gates"] == {"check_load": "ok", "check_evaluate": "ok"}
    assert rec["metric_directions"]["best_accuracy"] == "higher"
    assert rec["models"]["wine"]["version"] == 1
    code = (
        "import nb2pipe\n"
        "from sklearn.datasets import load_wine\n"
        "df = load_wine(as_frame=True).frame\n"
        "df['flavanoid_ratio'] = df['flavanoids'] / df['total_phenols']\n"
        "model = nb2pipe.load_model('wine')\n"
        "print(type(model).__name__, (model.predict(df.drop(columns='target')) == df['target']).mean())"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env(tmp_path),
        capture_output=True,
        text=True,
    )
    name, score = loaded.stdout.split()
    assert name == "RandomForestClassifier" and float(score) > 0.9, loaded.stderr
    shown = nb2pipe(tmp_path, "runs", "show", "a")
    assert shown.returncode == 0 and "best_accuracy" in shown.stdout and "higher" in shown.stdout
