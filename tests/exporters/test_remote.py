"""nb2pipe.runtime.remote: one step at a time, as an orchestrator's task runs it."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from exporter_helpers import REPO, TINY, WINE, local_run

from nb2pipe.runtime import UsageError
from nb2pipe.runtime.fsstore import FsspecStore
from nb2pipe.runtime.remote import (
    StepFailed,
    run_kfp_step,
    run_step,
    safe_run_id,
    step_record,
)
from nb2pipe.runtime.store import LocalStore

WINE_ORDER = [
    "load", "check_load", "split", "train_forest", "train_logreg", "evaluate", "check_evaluate",
]  # fmt: skip


def run_all(pkg: Path, store: Any, run_id: str, order: list[str], **kw: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in order:
        results[name] = run_step(
            pkg.name, name, store=store, run_id=run_id, package_path=pkg.parent, echo=False, **kw
        )
    return results


@pytest.mark.parametrize("kind", ["path", "file-url"])
def test_steps_one_by_one_compute_what_the_local_run_computes(packages, tmp_path, kind):
    pkg = packages(WINE, "wine")
    local = local_run(pkg, tmp_path / "runs")
    store = str(tmp_path / "store") if kind == "path" else f"file://{tmp_path / 'store'}"
    results = run_all(pkg, store, "manual__2026-01-01T00:00:00+00:00", WINE_ORDER)
    assert {r["status"] for r in results.values()} == {"ok"}
    assert results["evaluate"]["metrics"] == local.metrics
    # the same artifacts (content-addressed) as the local run for deterministic values
    for var in ("df", "X_train", "y_test"):
        step = "load" if var == "df" else "split"
        assert results[step]["outputs"][var]["hash"] == local.outputs[step][var].hash
    rid = safe_run_id("manual__2026-01-01T00:00:00+00:00")
    assert rid.startswith("manual__2026-01-01T00_00_00_00_00-")
    base = tmp_path / "store" / "runs" / rid
    assert (base / "logs" / "load.log").read_text().startswith("178 wines")
    record = json.loads((base / "steps" / "evaluate.json").read_text())
    assert record["status"] == "ok" and record["metrics"] == local.metrics
    assert record["inputs"]["forest"]["step"] == "train_forest"


def test_a_second_run_is_served_from_the_cache(packages, tmp_path):
    pkg = packages(WINE, "wine")
    store = str(tmp_path / "store")
    first = run_all(pkg, store, "r1", WINE_ORDER[:3])
    again = run_all(pkg, store, "r2", WINE_ORDER[:3])
    assert [r["status"] for r in again.values()] == ["cached"] * 3
    assert again["split"]["outputs"] == first["split"]["outputs"]
    changed = run_step(
        pkg.name, "split", store=store, run_id="r3", package_path=pkg.parent, echo=False,
        params={"test_size": 0.3}, upstream=first,
    )  # fmt: skip
    assert changed["status"] == "ok"
    forced = run_step(
        pkg.name, "load", store=store, run_id="r4", package_path=pkg.parent, echo=False,
        cache=False,
    )  # fmt: skip
    assert forced["status"] == "ok"


def test_inputs_come_from_upstream_results_or_the_runs_records(packages, tmp_path):
    pkg = packages(WINE, "wine")
    store = str(tmp_path / "store")
    load = run_step(pkg.name, "load", store=store, run_id="a", package_path=pkg.parent, echo=False)
    # from the result handed over (XCom), in another run
    res = run_step(
        pkg.name, "check_load", store=store, run_id="b", package_path=pkg.parent, echo=False,
        upstream={"load": load},
    )  # fmt: skip
    assert res["status"] == "ok"
    # from the record of the same run
    assert step_record(LocalStore(store), "a", "load")["outputs"] == load["outputs"]
    res = run_step(pkg.name, "split", store=store, run_id="a", package_path=pkg.parent, echo=False)
    assert res["status"] == "ok"
    with pytest.raises(StepFailed) as info:
        run_step(pkg.name, "split", store=store, run_id="c", package_path=pkg.parent, echo=False)
    assert info.value.kind == "input" and "run 'load' first" in info.value.message
    assert step_record(LocalStore(store), "c", "split")["status"] == "failed"


def test_a_failing_gate_raises_and_is_recorded(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    store = str(tmp_path / "store")
    kw = {"store": store, "run_id": "g", "package_path": pkg.parent, "echo": False}
    load = run_step(pkg.name, "load", **kw)
    with pytest.raises(StepFailed) as info:
        run_step(pkg.name, "check_load", params={"min_rows": 1000}, upstream={"load": load}, **kw)
    assert info.value.kind == "gate" and not info.value.retryable
    assert "too few rows" in info.value.message
    record = step_record(LocalStore(store), "g", "check_load")
    assert record["status"] == "failed" and record["error"]["cell"] == 5
    assert record["parameters"]["min_rows"] == 1000


def test_parameters_are_checked_against_their_types(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    kw = {"store": str(tmp_path / "s"), "run_id": "p", "package_path": pkg.parent, "echo": False}
    with pytest.raises(UsageError, match="min_rows"):
        run_step(pkg.name, "load", params={"min_rows": "many"}, **kw)
    with pytest.raises(UsageError, match="unknown parameter"):
        run_step(pkg.name, "load", params={"nope": 1}, **kw)
    with pytest.raises(UsageError, match="no step"):
        run_step(pkg.name, "nope", **kw)
    with pytest.raises(UsageError, match="cannot import"):
        run_step("no_such_package_xyz", "load", **kw)
    # a list arrives as a list (Airflow's JSON) and is used as the notebook would
    res = run_step(pkg.name, "load", params={"features": [0, 1]}, **kw)
    assert res["status"] == "ok"


def test_a_missing_notebook_folder_means_a_scratch_folder_and_a_warning(packages, tmp_path, capsys):
    pkg = packages(TINY, "tiny")
    text = (pkg / "pipeline.py").read_text()
    (pkg / "pipeline.py").write_text(text.replace('workdir="', 'workdir="gone/'))
    res = run_step(
        pkg.name, "load", store=str(tmp_path / "s"), run_id="w", package_path=pkg.parent,
        echo=False,
    )  # fmt: skip
    assert res["status"] == "ok"
    assert "does not exist here" in capsys.readouterr().err


def test_secret_parameters_come_from_the_environment_and_are_never_recorded(tmp_path, monkeypatch):
    from exporter_helpers import convert

    nb = tmp_path / "secret_nb.py"
    nb.write_text(
        '# %% tags=["parameters"]\napi_token = "x"  # secret\nn = 2\n\n'
        '# %% tags=["step:use"]\nlength = len(api_token) + n\nprint(api_token)\n'
    )
    pkg = convert(nb, tmp_path / "pkgs", "secret")
    from nb2pipe import api

    (secret,) = [p for p in api.load_package(pkg).parameters if p.secret]
    env = secret.env or secret.name
    monkeypatch.setenv(env, "hunter2-very-secret")
    store = tmp_path / "store"
    res = run_step(pkg.name, "use", store=str(store), run_id="s", package_path=pkg.parent,
                   echo=False)  # fmt: skip
    assert LocalStore(store).load(_ref(res["outputs"]["length"])) == len("hunter2-very-secret") + 2
    everything = "".join(p.read_text() for p in store.rglob("*") if p.suffix in (".json", ".log"))
    assert "hunter2" not in everything
    assert "***" in (store / "runs" / "s" / "logs" / "use.log").read_text()


def _ref(data: dict[str, Any]) -> Any:
    from nb2pipe.runtime.store import ArtifactRef

    return ArtifactRef.from_json(data)


# --- KFP ----------------------------------------------------------------------------------


class FakeArtifact(SimpleNamespace):
    """What KFP hands a component: a path and a metadata dict (Metrics: log_metric)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path=str(path), metadata={})

    def log_metric(self, name: str, value: float) -> None:
        self.metadata[name] = value


def test_kfp_steps_pass_values_as_artifact_files(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    local = local_run(pkg, tmp_path / "runs", max_depth=2)
    arts = {v: FakeArtifact(tmp_path / "kfp" / v) for v in ("X", "y", "model", "acc", "sum")}
    common = {"package_path": pkg.parent}
    run_kfp_step(pkg.name, "load", outputs={"X": arts["X"], "y": arts["y"]}, **common)
    assert arts["X"].metadata["nb2pipe_format"] == "npy"
    assert Path(arts["X"].path).read_bytes()[:6] == b"\x93NUMPY"
    run_kfp_step(pkg.name, "check_load", params={"min_rows": 10}, inputs={"X": arts["X"]}, **common)
    run_kfp_step(
        pkg.name, "train", param_text={"max_depth": "2"},
        inputs={"X": arts["X"], "y": arts["y"]}, outputs={"model": arts["model"]}, **common,
    )  # fmt: skip
    metrics = FakeArtifact(tmp_path / "kfp" / "metrics")
    res = run_kfp_step(
        pkg.name, "score", params={"label": "iris"},
        inputs={"model": arts["model"], "X": arts["X"], "y": arts["y"]},
        outputs={"accuracy": arts["acc"], "summary": arts["sum"]}, metrics=metrics, **common,
    )  # fmt: skip
    assert metrics.metadata == local.metrics == res["metrics"]
    assert json.loads(Path(arts["sum"].path).read_text()).startswith("iris: ")

    with pytest.raises(StepFailed) as info:
        run_kfp_step(pkg.name, "check_load", params={"min_rows": 999}, inputs={"X": arts["X"]},
                     **common)  # fmt: skip
    assert info.value.kind == "gate"
    # a file that does not match the digest in its metadata is refused
    Path(arts["X"].path).write_bytes(Path(arts["y"].path).read_bytes())
    with pytest.raises(StepFailed, match="does not match its digest"):
        run_kfp_step(pkg.name, "check_load", inputs={"X": arts["X"]}, **common)


def test_kfp_text_parameters_are_read_like_dash_p(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    out = {v: FakeArtifact(tmp_path / v) for v in ("X", "y")}
    run_kfp_step(pkg.name, "load", package_path=pkg.parent, outputs=out,
                 param_text={"features": "[0, 2]"})  # fmt: skip
    import numpy as np

    assert np.load(out["X"].path).shape == (150, 2)
    with pytest.raises(UsageError, match="features"):
        run_kfp_step(pkg.name, "load", package_path=pkg.parent, outputs=out,
                     param_text={"features": "{a: 1}"})  # fmt: skip


def test_fsspec_memory_store_serves_a_whole_run(packages, tmp_path):
    import fsspec  # noqa: F401 - a dev dependency: a missing one is an error, not a skip

    pkg = packages(TINY, "tiny")
    url = f"memory://nb2pipe-tests/{tmp_path.name}"
    results = run_all(pkg, url, "m", ["load", "check_load", "train", "score"])
    assert results["score"]["metrics"]["accuracy"] == 1.0
    fs = FsspecStore(url)
    assert fs.read_json("runs/m/steps/score.json")["status"] == "ok"
    assert fs.fs.exists(f"{fs.root}/runs/m/logs/load.log")  # logs are uploaded
    assert fs.get_entry("tiny_gate", "score", results["score"]["cache_key"]) is not None


FIDELITY = REPO / "tests" / "fidelity" / "notebooks"


@pytest.mark.parametrize(
    "name",
    ["derived_parameters", "gate_and_metrics", "kale_tuple_params", "classes", "file_handoff",
     "mutation_method", "seed_parameter", "closures"],
)  # fmt: skip
def test_remote_steps_match_the_local_run_on_hard_cases(packages, tmp_path, name):
    """Every step run alone, in the DAG's order, as an orchestrator would: the same metrics
    and the same artifacts (those whose encoding is deterministic) as `nb2pipe run`."""
    from nb2pipe import api
    from nb2pipe.exporters.airflow import topological

    notebook = tmp_path / "nb" / f"{name}.py"  # steps run in its folder: not the repo's
    notebook.parent.mkdir()
    notebook.write_bytes((FIDELITY / notebook.name).read_bytes())
    pkg = packages(notebook, name)
    local = local_run(pkg, tmp_path / "runs")
    assert local.ok, local.error
    pipeline = api.load_package(pkg)
    results: dict[str, Any] = {}
    for step in topological(pipeline.steps):
        up = {u: results[u] for u in step.upstream}
        results[step.name] = run_step(
            pkg.name, step.name, store=str(tmp_path / "store"), run_id="x",
            package_path=pkg.parent, upstream=up, echo=False,
        )  # fmt: skip
    metrics = {k: v for r in results.values() for k, v in (r["metrics"] or {}).items()}
    assert metrics == local.metrics
    for step, outs in local.outputs.items():
        for var, ref in outs.items():
            if ref.format in ("json", "npy", "parquet"):
                assert results[step]["outputs"][var]["hash"] == ref.hash, (step, var)
