"""Runs in this process on a package converted from a notebook whose model is plain data:
metrics in run.json and metrics.json, registration only after every gate passed, the
baseline gate, retraining when the data file changes, and what blocks registration."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlops_helpers import TINY, convert, forget, run_inline, write_values

import nb2pipe
from nb2pipe.mlops.registry import open_registry
from nb2pipe.runtime import UsageError

VALUES = [1, 2, 3, 7, 8, 9]


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    package = convert(tmp_path, TINY)
    write_values(tmp_path, VALUES)
    yield tmp_path, package
    forget(package)


def registry(folder: Path):
    return open_registry("local", runs_dir=folder / "runs")


def test_metrics_and_registration(tiny: tuple[Path, str]) -> None:
    folder, package = tiny
    result = run_inline(folder, package, run_id="first")
    assert result.status == "ok", result.error
    rec = json.loads((result.run_dir / "run.json").read_text())
    assert rec["metrics"] == {"error": 0.0, "score": 1.0}
    assert rec["steps"]["evaluate"]["metrics"] == {"error": 0.0, "score": 1.0}
    assert rec["metric_directions"] == {"error": "lower", "score": "higher"}
    assert rec["gates"] == {"check_load": "ok", "check_evaluate": "ok"}
    promotion = rec["models"]["threshold"].pop("promotion")
    assert rec["models"]["threshold"] == {
        "registered": True,
        "version": 1,
        "new": True,
        "alias": "champion",
        "backend": "local",
    }
    assert promotion == {
        "policy": "if-better",
        "metric": "error",  # the first metric: none is marked # primary
        "direction": "lower",
        "value": 0.0,
        "champion_before": None,
        "champion_value": None,
        "decision": "promoted",
        "reason": "first version",
        "champion_after": 1,
    }
    doc = json.loads((result.run_dir / "metrics.json").read_text())
    assert doc["metrics"]["error"] == {"value": 0.0, "step": "evaluate", "direction": "lower"}
    assert doc["run_id"] == "first" and doc["status"] == "ok"

    mv = registry(folder).get("threshold")
    assert (mv.version, mv.aliases, mv.run_id) == (1, ["champion"], "first")
    assert (mv.step, mv.variable) == ("train", "model")
    assert mv.parameters == {"data_path": "data.json", "shift": 0.0, "max_error": 0.5}
    assert mv.metrics == {"error": 0.0, "score": 1.0}
    assert mv.directions == {"error": "lower", "score": "higher"}
    assert mv.gates == {"check_load": "ok", "check_evaluate": "ok"}
    assert list(mv.data["files"]) == ["data.json (parameter data_path)"]
    assert set(mv.data["inputs"]) == {"values"}
    assert len(mv.code["digest"]) == 64 and set(mv.code["steps"]) == {
        "load",
        "check_load",
        "train",
        "evaluate",
        "check_evaluate",
    }
    assert mv.artifact["hash"] == result.outputs["train"]["model"].hash
    assert mv.reference == ["values"]
    assert mv.primary == "error" and mv.promotion["decision"] == "promoted"
    assert mv.schema == {}  # a dict is no model with features
    expected = {"cut": 5.0}
    assert nb2pipe.load_model("threshold", runs_dir=folder / "runs") == expected
    assert nb2pipe.load_model("threshold:1", registry=folder / "runs" / "registry") == expected


def test_unchanged_data_adds_no_version_new_data_does(tiny: tuple[Path, str]) -> None:
    folder, package = tiny
    assert run_inline(folder, package).ok
    again = run_inline(folder, package)
    assert {s["status"] for s in again.steps.values()} == {"cached"}
    assert again.models["threshold"]["new"] is False
    assert again.models["threshold"]["version"] == 1

    write_values(folder, [*VALUES, 10])  # new data: the file named by data_path changed
    third = run_inline(folder, package, run_id="retrain")
    assert third.ok
    # every step the new data reaches reruns; the model gate's input (error) is unchanged
    assert {n: s["status"] for n, s in third.steps.items()} == {
        **dict.fromkeys(["load", "check_load", "train", "evaluate"], "ok"),
        "check_evaluate": "cached",
    }
    assert "data.json" in third.steps["load"]["reason"]
    promotion = third.models["threshold"].pop("promotion")
    assert (promotion["decision"], promotion["champion_before"]) == ("promoted", 1)
    assert promotion["reason"] == "error 0 <= 0, lower is better"  # a tie promotes
    assert third.models["threshold"] == {
        "registered": True,
        "version": 2,
        "new": True,
        "alias": "champion",
        "backend": "local",
    }
    reg = registry(folder)
    assert reg.get("threshold").run_id == "retrain"
    assert reg.load(reg.get("threshold")) == {"cut": 40 / 7}


def test_a_failing_gate_registers_nothing(tiny: tuple[Path, str]) -> None:
    folder, package = tiny
    assert run_inline(folder, package).ok
    write_values(folder, [1, 2, -3, 7, 8, 9])  # the data gate refuses negative values
    bad = run_inline(folder, package, run_id="bad")
    assert (bad.status, bad.exit_code) == ("failed", 1)
    assert bad.steps["check_load"]["status"] == "failed"
    assert bad.steps["check_load"]["error"]["kind"] == "gate"
    assert {bad.steps[s]["status"] for s in ("train", "evaluate", "check_evaluate")} == {"skipped"}
    assert "all(v >= 0 for v in values)" in bad.error
    assert bad.models == {}
    reg = registry(folder)
    assert [v.version for v in reg.versions("threshold")] == [1]
    assert reg.get("threshold").version == 1  # the champion stays

    # the model gate: a worse model that fails it is not registered either
    write_values(folder, VALUES)
    worse = run_inline(folder, package, param_args=["shift=2.5", "max_error=0.1"])
    assert worse.status == "failed" and worse.steps["check_evaluate"]["status"] == "failed"
    assert "error 0.16" in worse.error and "error <= max_error" in worse.error
    assert [v.version for v in reg.versions("threshold")] == [1]


def test_baseline_gate_blocks_a_regression(tiny: tuple[Path, str]) -> None:
    folder, package = tiny
    assert run_inline(folder, package).ok
    worse = run_inline(folder, package, param_args=["shift=2.5"], max_regression=["error=0.1"])
    assert worse.status == "failed" and worse.exit_code == 1
    assert {s["status"] for s in worse.steps.values()} <= {"ok", "cached"}  # every gate passed
    assert worse.error.startswith("baseline gate failed: error = 0.166667 is worse than")
    assert "threshold:1 (champion)" in worse.error
    rec = json.loads((worse.run_dir / "run.json").read_text())
    assert rec["status"] == "failed"
    assert rec["baseline"]["limits"] == ["error=0.1"]
    assert rec["models"]["threshold"] == {"registered": False, "reason": "baseline gate failed"}
    assert json.loads((worse.run_dir / "metrics.json").read_text())["status"] == "failed"
    reg = registry(folder)
    assert len(reg.versions("threshold")) == 1
    # within the allowed regression (relative: 20 % of 0 is 0, so use an absolute delta)
    fine = run_inline(folder, package, param_args=["shift=2.5"], max_regression=["error=0.2"])
    assert fine.ok and fine.models["threshold"]["version"] == 2
    # registered, but worse than the champion: --promote if-better keeps version 1
    assert fine.models["threshold"]["alias"] is None
    assert fine.models["threshold"]["promotion"]["decision"] == "kept"
    assert reg.alias_version("threshold") == 1
    # better is always fine; score is higher-is-better
    back = run_inline(folder, package, max_regression=["score=0", "error=0"])
    assert back.ok and back.models["threshold"].pop("promotion")["decision"] == "already champion"
    assert back.models["threshold"] == {
        "registered": True,
        "version": 1,
        "new": False,
        "alias": "champion",
        "backend": "local",
    }


def test_partial_runs_and_no_register(tiny: tuple[Path, str]) -> None:
    folder, package = tiny
    only = run_inline(folder, package, until="train")
    assert only.ok
    assert only.models["threshold"]["registered"] is False
    assert "did not run" in only.models["threshold"]["reason"]
    assert not (folder / "runs" / "registry" / "threshold").exists()
    skipped = run_inline(folder, package, register=False)
    assert skipped.ok and skipped.models == {}
    assert not (folder / "runs" / "registry" / "threshold").exists()


def test_bad_mlops_options_are_usage_errors(
    tiny: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, package = tiny
    with pytest.raises(UsageError, match="--max-regression expects"):
        run_inline(folder, package, max_regression=["error"])
    with pytest.raises(UsageError, match="--tracking 'neptune'"):
        run_inline(folder, package, tracking="neptune")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "mlflow" else real(n, *a)
    )
    with pytest.raises(UsageError, match=r"pip install 'nb2pipe\[mlflow\]'"):
        run_inline(folder, package, tracking="mlflow")
    assert not (folder / "runs").exists() or not any(
        p.name not in ("store",) for p in (folder / "runs").iterdir()
    )


def test_max_regression_needs_a_model(tmp_path: Path) -> None:
    cells = [("parameters", "k = 1"), ("step:a", "x = k + 1"), ("metrics", "x")]
    package = convert(tmp_path, cells)
    try:
        with pytest.raises(UsageError, match="declares none"):
            run_inline(tmp_path, package, max_regression=["x=1"])
        plain = run_inline(tmp_path, package)
        assert plain.ok and plain.models == {}
        assert json.loads((plain.run_dir / "metrics.json").read_text())["metrics"] == {
            "x": {"value": 2, "step": "a", "direction": "higher"}
        }
    finally:
        forget(package)


def test_a_registry_failure_after_the_steps_fails_the_run(
    tiny: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. the MLflow server went away during the run: exit 1, one line, steps kept."""
    from nb2pipe.mlops import publish
    from nb2pipe.mlops.registry import RegistryError

    class Down(publish.PublishHook):
        @property
        def registry(self):  # type: ignore[override]
            raise RegistryError("MLflow (http://x): registering the version failed: refused")

    folder, package = tiny
    result = run_inline(folder, package, run_id="down", hooks=[Down()])
    assert (result.status, result.exit_code) == ("failed", 1)
    assert result.error == (
        "model registry: MLflow (http://x): registering the version failed: refused"
    )
    assert {s["status"] for s in result.steps.values()} == {"ok"}
    assert json.loads((result.run_dir / "metrics.json").read_text())["status"] == "failed"


@pytest.mark.integration
@pytest.mark.parametrize("how", ["file in the way", "read-only folder"])
def test_a_registry_that_cannot_be_written_fails_the_run(tiny: tuple[Path, str], how: str) -> None:
    """`python -m <package>` and `nb2pipe run` exit 1 (not 0, not 'crashed'), the record
    and the terminal say which file could not be written; the steps stay ok."""
    import os
    import stat

    from mlops_helpers import nb2pipe, run_cli

    folder, package = tiny
    reg = folder / "reg"
    reg.mkdir()
    if how == "file in the way":
        (reg / "threshold").write_text("not a folder")
    else:
        if os.geteuid() == 0:
            pytest.skip(
                "root ignores file modes, so the folder is not read-only for it; the "
                "'file in the way' case covers the same error path"
            )
        reg.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        runs = [
            run_cli(folder, package, "--registry", str(reg), "--run-id", "m"),
            nb2pipe(
                folder,
                "run",
                package,
                "--runs-dir",
                "runs",
                "--registry",
                str(reg),
                "--run-id",
                "n",
            ),  # fmt: skip
        ]
    finally:
        reg.chmod(0o755)
    for run_id, r in zip(("m", "n"), runs, strict=True):
        assert r.returncode == 1, (r.stdout, r.stderr)
        rec = json.loads((folder / "runs" / run_id / "run.json").read_text())
        assert rec["status"] == "failed", rec["error"]
        assert rec["error"].startswith(f"model registry: {reg / 'threshold'}"), rec["error"]
        assert rec["models"]["threshold"] == {"registered": False, "reason": rec["error"]}
        assert {s["status"] for s in rec["steps"].values()} <= {"ok", "cached"}
        assert rec["error"] in r.stderr


def test_a_run_hook_that_raises_fails_the_run_naming_it(tiny: tuple[Path, str]) -> None:
    class Broken:
        def after_run(self, run: object) -> None:
            raise ValueError("no space\nleft")

    folder, package = tiny
    result = run_inline(folder, package, run_id="hooked", hooks=[Broken()])
    assert (result.status, result.exit_code) == ("failed", 1)
    assert result.error == "run hook Broken.after_run: ValueError: no space left"
    assert json.loads((result.run_dir / "run.json").read_text())["error"] == result.error


@pytest.mark.integration
def test_a_fully_cached_run_loads_no_training_data(tmp_path: Path) -> None:
    """Registering an unchanged model needs no reference statistics: a fully cached run
    must not read the training data, nor import the libraries its values need."""
    import subprocess
    import sys

    from mlops_helpers import env, run_cli

    cells = [
        ("step:load", "import pandas as pd\ndf = pd.DataFrame({'a': [1.0, 2.0, 3.0]})"),
        ("step:train model:m", "m = {'mean': float(df['a'].mean())}"),
    ]
    package = convert(tmp_path, cells)
    first = run_cli(tmp_path, package)
    assert first.returncode == 0, first.stderr
    probe = (
        "import json, sys\n"
        "from nb2pipe.runtime import main\n"
        f"from {package}.pipeline import PIPELINE\n"
        "code = main(PIPELINE, ['--runs-dir', 'runs', '-q'])\n"
        "print(json.dumps([code, [m for m in ('pandas', 'pyarrow') if m in sys.modules]]))\n"
    )
    again = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env(tmp_path), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1]) == [0, []]
