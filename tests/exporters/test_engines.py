"""The exported pipelines on the real engines, each in its own cached venv.

- Airflow 3: ``airflow dags test`` on SQLite runs the exported DAG; every task succeeds
  and the final metric equals the local run's; a failing gate fails its task and the
  tasks after it do not run.
- KFP: the pipeline compiles offline to the YAML KFP uploads, and ``kfp.local``
  (SubprocessRunner(use_venv=False), pip kept off the network) runs it; the metric equals
  the local run's; Kale's tags reach the YAML; a failing gate stops the run.
- GitHub Actions: the workflow validates against GitHub's workflow schema
  (check-jsonschema's bundled copy, offline).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from exporter_helpers import (
    HERE,
    RANDOM_CHAIN,
    REPO,
    TINY,
    WINE,
    convert,
    engine_environ,
    engine_envs,
    local_run,
    run_engine,
    script_value,
)

from nb2pipe.exporters import export
from nb2pipe.runtime.fsstore import FsspecStore
from nb2pipe.runtime.store import ArtifactRef

# --- Airflow ----------------------------------------------------------------------------


def dags_test(
    venv: Path,
    tmp: Path,
    dag_file: Path,
    dag_id: str,
    conf: dict[str, Any] | None = None,
    *,
    airflow3: bool = True,
) -> tuple[Any, dict[str, str]]:
    """``airflow dags test`` in a fresh AIRFLOW_HOME (a copy of the migrated SQLite DB) of a
    copy of ``dag_file`` in a DAGs folder, the project root given as a deployment gives it
    (NB2PIPE_PROJECT_ROOT: where the exported file says the project is); returns the
    process and the task states Airflow recorded."""
    text = dag_file.read_text()
    root_from_dag = ast.literal_eval(text.split("ROOT_FROM_DAG = ", 1)[1].split("\n", 1)[0])
    root = (dag_file.parent / root_from_dag).resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    home, dags = tmp / "airflow-home", tmp / "dags"
    home.mkdir()
    dags.mkdir(exist_ok=True)
    shutil.copy(engine_envs.airflow_db(venv), home / "airflow.db")
    shutil.copy(dag_file, dags / dag_file.name)
    cmd = [str(venv / "bin" / "airflow"), "dags", "test", dag_id]
    if airflow3:  # Airflow 2.10 has no -f: it reads the DAGs folder
        cmd += ["-f", str(dags / dag_file.name)]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    env = {**engine_envs.airflow_environ(venv, home, dags), "NB2PIPE_PROJECT_ROOT": str(root)}
    proc = run_engine(cmd, env, tmp, timeout=600)
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ?", (dag_id,)
        ).fetchall()
    return proc, dict(rows)


def _tail(proc: Any) -> str:
    return (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.integration
@pytest.mark.xdist_group("airflow")
def test_airflow_runs_the_wine_pipeline_like_the_local_run(airflow_env, packages, tmp_path):
    pkg = packages(WINE, "wine")
    local = local_run(pkg, tmp_path / "local-runs")
    assert local.ok, local.error
    store = f"file://{tmp_path / 'shared-store'}"  # the fsspec store (object-store rules)
    dag_file = tmp_path / "wine_dag.py"
    export("airflow", pkg, dag_file, {"store": store, "retries": 1})

    proc, states = dags_test(airflow_env, tmp_path, dag_file, "wine_classifier")
    assert proc.returncode == 0, _tail(proc)
    steps = ["load", "check_load", "split", "train_forest", "train_logreg", "evaluate"]
    assert states == dict.fromkeys([*steps, "check_evaluate"], "success"), _tail(proc)

    fs = FsspecStore(store)
    (record_path,) = (tmp_path / "shared-store" / "runs").glob("*/steps/evaluate.json")
    record = json.loads(record_path.read_text())
    assert record["status"] == "ok"
    assert record["metrics"] == local.metrics  # the same numbers, bit for bit
    assert record["metrics"]["best_accuracy"] > 0.8
    best = fs.load(ArtifactRef.from_json(record["outputs"]["best_accuracy"]))
    assert best == local.load("evaluate", "best_accuracy")


@pytest.mark.integration
@pytest.mark.xdist_group("airflow")
def test_airflow_failing_gate_fails_its_task_and_stops_the_rest(airflow_env, packages, tmp_path):
    pkg = packages(TINY, "tiny")
    store = tmp_path / "store"  # a plain path: LocalStore
    dag_file = tmp_path / "tiny_dag.py"
    export("airflow", pkg, dag_file, {"store": str(store), "retries": 2})

    proc, states = dags_test(airflow_env, tmp_path, dag_file, "tiny_gate", {"min_rows": 1000})
    assert proc.returncode != 0
    assert states["load"] == "success", _tail(proc)
    assert states["check_load"] == "failed"  # the gate: AirflowFailException, no retry
    assert states["train"] == states["score"] == "upstream_failed"
    assert "too few rows" in proc.stdout + proc.stderr
    records = {p.stem: json.loads(p.read_text()) for p in store.glob("runs/*/steps/*.json")}
    assert set(records) == {"load", "check_load"}  # train and score never ran
    assert records["check_load"]["status"] == "failed"
    assert records["check_load"]["error"]["kind"] == "gate"
    assert records["check_load"]["parameters"]["min_rows"] == 1000  # the DAG param reached it
    assert (store / "objects").is_dir() and (store / "STORE").is_file()  # LocalStore layout


@pytest.mark.integration
@pytest.mark.xdist_group("airflow")
def test_airflow_carries_the_global_random_state_between_tasks(airflow_env, packages, tmp_path):
    """split and train draw from the seeded global stream in separate tasks: the state
    travels as __random_state__, so the score is the notebook's."""
    pkg = packages(RANDOM_CHAIN, "random_chain")
    local = local_run(pkg, tmp_path / "local-runs")
    assert local.ok, local.error
    assert local.metrics["score"] == script_value(RANDOM_CHAIN, "score")  # the notebook's
    store = tmp_path / "store"
    dag_file = tmp_path / "random_chain_dag.py"
    export("airflow", pkg, dag_file, {"store": str(store)})
    proc, states = dags_test(airflow_env, tmp_path, dag_file, "random_chain")
    assert proc.returncode == 0, _tail(proc)
    assert states == dict.fromkeys(["load", "split", "describe", "train"], "success")
    records = {p.stem: json.loads(p.read_text()) for p in store.glob("runs/*/steps/*.json")}
    assert records["train"]["metrics"] == local.metrics
    assert "__random_state__" in records["train"]["inputs"]


@pytest.mark.integration
@pytest.mark.xdist_group("airflow2")
@pytest.mark.skipif(
    os.environ.get("NB2PIPE_TEST_AIRFLOW2") != "1",
    reason="Airflow 2.10: set NB2PIPE_TEST_AIRFLOW2=1 (builds its own venv, about 3 minutes)",
)
def test_airflow_2_10_runs_the_same_dag_file(packages, tmp_path):
    venv = engine_envs.ensure("airflow2")
    pkg = packages(TINY, "tiny")
    local = local_run(pkg, tmp_path / "local-runs")
    store = tmp_path / "store"
    dag_file = tmp_path / "tiny_dag.py"
    export("airflow", pkg, dag_file, {"store": str(store)})
    proc, states = dags_test(venv, tmp_path / "ok", dag_file, "tiny_gate", airflow3=False)
    assert proc.returncode == 0, _tail(proc)
    assert set(states.values()) == {"success"} and len(states) == 4
    (record,) = store.glob("runs/*/steps/score.json")
    assert json.loads(record.read_text())["metrics"] == local.metrics
    proc, states = dags_test(
        venv, tmp_path / "gate", dag_file, "tiny_gate", {"min_rows": 1000}, airflow3=False
    )
    assert states["check_load"] == "failed" and states["score"] == "upstream_failed"


# --- Kubeflow Pipelines -------------------------------------------------------------------


def kfp_local(venv: Path, source: Path, tmp: Path, args: dict[str, Any]) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    summary = tmp / "summary.json"
    proc = run_engine(
        [
            str(venv / "bin" / "python"),
            str(HERE / "kfp_local_runner.py"),
            str(source),
            str(tmp / "kfp-root"),
            json.dumps(args),
            str(summary),
        ],
        engine_environ(venv),
        tmp,
        timeout=600,
    )
    assert proc.returncode == 0, _tail(proc)
    data = json.loads(summary.read_text())
    data["log"] = proc.stdout + proc.stderr
    return data


def _metrics(task: dict[str, Any]) -> dict[str, Any]:
    return task["artifacts"]["metrics"]["artifacts"][0]["metadata"]


@pytest.mark.integration
@pytest.mark.xdist_group("kfp")
def test_kfp_compiles_and_runs_the_wine_pipeline_like_the_local_run(kfp_env, packages, tmp_path):
    pkg = packages(WINE, "wine")
    local = local_run(pkg, tmp_path / "local-runs")
    source = tmp_path / "wine_kfp.py"
    _, said = export("kfp", pkg, source, {"kfp_python": str(kfp_env / "bin" / "python")})
    compiled = yaml.safe_load(source.with_suffix(".yaml").read_text())
    assert "wrote" in said[0]
    assert set(compiled["components"]) == {
        f"comp-step-{s}"
        for s in ("load", "check-load", "split", "train-forest", "train-logreg", "evaluate")
    } | {"comp-step-check-evaluate"}
    inputs = compiled["root"]["inputDefinitions"]["parameters"]
    assert inputs["n_estimators"]["parameterType"] == "NUMBER_INTEGER"
    assert inputs["test_size"]["parameterType"] == "NUMBER_DOUBLE"
    assert inputs["max_depth"] == {"defaultValue": "null", "isOptional": True,
                                   "parameterType": "STRING"}  # fmt: skip
    evaluate = compiled["components"]["comp-step-evaluate"]["outputDefinitions"]["artifacts"]
    assert evaluate["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    forest = compiled["components"]["comp-step-train-forest"]["outputDefinitions"]["artifacts"]
    assert forest["out_forest"]["artifactType"]["schemaTitle"] == "system.Model"

    run = kfp_local(kfp_env, source, tmp_path, {})
    assert run["error"] is None, run["log"][-4000:]
    assert len(run["tasks"]) == 7
    assert _metrics(run["tasks"]["step-evaluate"]) == local.metrics


@pytest.mark.integration
@pytest.mark.xdist_group("kfp")
def test_kfp_tags_parameters_and_gate_on_the_tiny_pipeline(kfp_env, packages, tmp_path):
    pkg = packages(TINY, "tiny")
    source = tmp_path / "tiny_kfp.py"
    export("kfp", pkg, source, {"kfp_python": str(kfp_env / "bin" / "python")})
    compiled = yaml.safe_load(source.with_suffix(".yaml").read_text())
    executors = compiled["deploymentSpec"]["executors"]
    load = executors["exec-step-load"]["container"]
    assert load["resources"]["resourceMemoryLimit"] == "1Gi"  # limit:memory:1Gi
    assert load["resources"]["resourceCpuLimit"] == "1"  # limit:cpu:1
    train = executors["exec-step-train"]["container"]
    assert train["image"] == "python:3.11-slim"  # image:python:3.11-slim
    assert train["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert int(train["resources"]["accelerator"]["resourceCount"]) == 1
    assert executors["exec-step-score"]["container"]["image"].startswith("python:")

    # parameters KFP cannot carry natively travel as text: None, a list of ints
    local = local_run(pkg, tmp_path / "local-runs", max_depth=2, features=[0, 2])
    run = kfp_local(kfp_env, source, tmp_path / "ok", {"max_depth": "2", "features": "[0, 2]"})
    assert run["error"] is None, run["log"][-4000:]
    assert _metrics(run["tasks"]["step-score"]) == local.metrics
    assert local.metrics["accuracy"] < 1.0  # max_depth=2 was applied (unbounded: 1.0)

    failed = kfp_local(kfp_env, source, tmp_path / "gate", {"min_rows": 1000})
    assert failed["error"] is not None
    assert "too few rows" in failed["log"]
    assert set(failed["tasks"]) == {"step-load"}  # the gate failed, nothing after it ran


@pytest.mark.integration
@pytest.mark.xdist_group("kfp")
def test_kfp_compiles_the_hard_cases_offline(kfp_env, packages, tmp_path):
    """Mutated inputs (in_X and out_X), derived values, tuple parameters, gates, classes:
    each exports and compiles; every task's inputs are wired to an upstream output."""
    for name in ("mutation_method", "derived_parameters", "kale_tuple_params", "classes"):
        notebook = tmp_path / f"{name}.py"
        shutil.copy(REPO / "tests" / "fidelity" / "notebooks" / notebook.name, notebook)
        pkg = packages(notebook, name)
        source = tmp_path / f"{name}_kfp.py"
        export("kfp", pkg, source, {"kfp_python": str(kfp_env / "bin" / "python")})
        compiled = yaml.safe_load(source.with_suffix(".yaml").read_text())
        for task in compiled["root"]["dag"]["tasks"].values():
            for art in task.get("inputs", {}).get("artifacts", {}).values():
                assert art["taskOutputArtifact"]["producerTask"].startswith("step-")


@pytest.mark.integration
@pytest.mark.xdist_group("kfp")
def test_kfp_carries_the_global_random_state_between_components(kfp_env, packages, tmp_path):
    pkg = packages(RANDOM_CHAIN, "random_chain")
    local = local_run(pkg, tmp_path / "local-runs")
    assert local.metrics["score"] == script_value(RANDOM_CHAIN, "score")
    source = tmp_path / "random_chain_kfp.py"
    export("kfp", pkg, source, {"kfp_python": str(kfp_env / "bin" / "python")})
    compiled = yaml.safe_load(source.with_suffix(".yaml").read_text())
    train = compiled["root"]["dag"]["tasks"]["step-train"]["inputs"]["artifacts"]
    carried = [a["taskOutputArtifact"] for k, a in train.items() if "random_state" in k]
    assert [c["producerTask"] for c in carried] == ["step-split"]
    run = kfp_local(kfp_env, source, tmp_path, {})
    assert run["error"] is None, run["log"][-4000:]
    assert _metrics(run["tasks"]["step-train"]) == local.metrics


# --- GitHub Actions -----------------------------------------------------------------------


def check_workflow(venv: Path, path: Path) -> Any:
    return run_engine(
        [
            str(venv / "bin" / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        engine_environ(venv),
        path.parent,
        timeout=120,
    )


def workflow_for(notebook: Path, tmp: Path) -> Path:
    """A repository with the notebook and its package; the workflow exported from it."""
    repo = tmp / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "notebooks").mkdir()
    shutil.copy(notebook, repo / "notebooks" / notebook.name)
    pkg = convert(repo / "notebooks" / notebook.name, repo / "pipelines", "pkg")
    result, _ = export("github-actions", pkg)
    (out,) = result.files
    assert out == repo / ".github" / "workflows" / f"{out.stem}.yml"  # found the git root
    return out


@pytest.mark.integration
@pytest.mark.xdist_group("gha")
@pytest.mark.parametrize("notebook", [WINE, TINY], ids=["wine", "tiny"])
def test_github_workflow_validates_against_githubs_schema(gha_env, tmp_path, notebook):
    out = workflow_for(notebook, tmp_path)
    proc = check_workflow(gha_env, out)
    assert proc.returncode == 0, _tail(proc)
    assert "ok -- validation done" in proc.stdout


@pytest.mark.integration
@pytest.mark.xdist_group("gha")
def test_the_schema_check_catches_a_broken_workflow(gha_env, tmp_path):
    data = yaml.safe_load(workflow_for(TINY, tmp_path).read_text())
    del data["jobs"]["pipeline"]["runs-on"]
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"on" if k is True else k: v for k, v in data.items()}))
    proc = check_workflow(gha_env, broken)
    assert proc.returncode != 0
    assert "runs-on" in proc.stdout + proc.stderr


def test_engine_venvs_are_keyed_by_what_goes_into_them(monkeypatch):
    """Changing a pin makes a new venv; the same inputs find the same one, outside the repo."""
    key = engine_envs.env_key("kfp")
    assert key == engine_envs.env_key("kfp")
    assert engine_envs.env_dir("kfp").name == f"kfp-{key}"
    assert not engine_envs.env_dir("kfp").is_relative_to(engine_envs.REPO)
    monkeypatch.setitem(engine_envs.ENGINES["kfp"], "requirements", ("kfp==2.17.0",))
    assert engine_envs.env_key("kfp") != key
