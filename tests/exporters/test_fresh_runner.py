"""Exports that run on a fresh machine.

- The GitHub Actions workflow runs, step by step, on a fresh venv that has only what its
  own `pip install` lines put there (gha_runner.py): nb2pipe pinned to the version that
  generated the package (from a wheel of this checkout, offline), or nb2pipe's own
  checkout when the repository is nb2pipe's; the store and the registry come back from
  the cache, so a second job is served from the cache and `--max-regression` compares
  with the champion the first job registered.
- The Airflow DAG runs after the project moved to another folder (the converting
  machine's paths gone), its root given by an environment variable or an Airflow Variable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from exporter_helpers import REPO, engine_envs
from gha_runner import fresh_python, run_job, workflow_env
from notebooks import write_notebook
from wheels import build_wheels

import nb2pipe

CELLS = [
    ("imports", "import json"),
    ("parameters", 'data_path = "data.json"  # the training data\nshift = 0.0'),
    ("step:load", "with open(data_path) as f:\n    values = json.load(f)['values']"),
    ("step:train model:threshold", "model = {'cut': sum(values) / len(values) + shift}"),
    ("step:evaluate", "error = sum((v > model['cut']) != (v > 5) for v in values) / len(values)"),
    ("metrics", "error  # lower"),
]


def nb2pipe_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "nb2pipe"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc


def project(repo: Path) -> None:
    """A notebook and its data in repo/notebooks, converted into repo/pipelines/tiny."""
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    write_notebook(repo / "notebooks" / "tiny.ipynb", CELLS)
    (repo / "notebooks" / "data.json").write_text(json.dumps({"values": [1, 2, 3, 7, 8, 9]}))
    nb2pipe_cli(repo, "convert", "notebooks/tiny.ipynb", "-o", "pipelines/tiny", "-q")


@pytest.fixture(scope="session")
def runner_env() -> Path:
    return engine_envs.ensure("runner")


@pytest.fixture(scope="session")
def nb2pipe_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of this checkout (nb2pipe and nb2pipe-runtime, which it depends on): what
    `pip install nb2pipe==X` finds (offline)."""
    tmp = tmp_path_factory.mktemp("wheels")
    build = build_wheels(tmp)
    assert build.returncode == 0, build.stderr
    return tmp / "wheels"


def dags_test_with(venv: Path, tmp: Path, dag_file: Path, dag_id: str, extra: dict[str, str]):
    """``airflow dags test`` of a copy of ``dag_file`` in a DAGs folder of its own (as a
    deployment copies it), with ``extra`` in the environment (AIRFLOW_VAR_* included)."""
    import sqlite3

    home, dags = tmp / "airflow-home", tmp / "dags"
    home.mkdir(parents=True)
    dags.mkdir()
    shutil.copy(engine_envs.airflow_db(venv), home / "airflow.db")
    shutil.copy(dag_file, dags / dag_file.name)
    env = {**engine_envs.airflow_environ(venv, home, dags), **extra}
    cmd = [str(venv / "bin" / "airflow"), "dags", "test", dag_id, "-f", str(dags / dag_file.name)]
    proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=600)
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ?", (dag_id,)
        ).fetchall()
    return proc, dict(rows)


def _said(job) -> str:
    return "\n".join(f"--- {name} ({code})\n{text[-3000:]}" for name, code, text in job.steps)


@pytest.mark.integration
@pytest.mark.xdist_group("runner")
def test_the_workflow_runs_on_a_fresh_runner_with_its_cache(runner_env, nb2pipe_wheel, tmp_path):
    repo = tmp_path / "repo"
    project(repo)
    nb2pipe_cli(repo, "export", "github-actions", "pipelines/tiny",
                "--set", "run_options=--max-regression error=0.1")  # fmt: skip
    workflow = repo / ".github" / "workflows" / "tiny.yml"
    assert workflow_env(workflow)["NB2PIPE_REQUIREMENT"] == f"nb2pipe=={nb2pipe.__version__}"
    links = [nb2pipe_wheel, runner_env / "wheelhouse"]
    cache: dict[str, Path] = {}

    first = run_job(workflow, repo, tmp_path / "job1", cache=cache, find_links=links,
                    python=fresh_python(tmp_path / "py1", runner_env))  # fmt: skip
    assert first.ok, _said(first)
    assert f"Successfully installed nb2pipe-{nb2pipe.__version__}" in first.output("Install")
    run = json.loads((first.artifacts / "gha-101-1" / "run.json").read_text())
    assert run["status"] == "ok" and run["models"]["threshold"]["version"] == 1
    assert run["command"][:2] == ["nb2pipe", "run"]
    (key,) = cache
    assert (cache[key] / "runs" / "registry").is_dir() and (cache[key] / "runs" / "store").is_dir()

    again = run_job(workflow, repo, tmp_path / "job2", cache=cache, find_links=links, run_id=102,
                    python=fresh_python(tmp_path / "py2", runner_env))  # fmt: skip
    assert again.ok, _said(again)
    run = json.loads((again.artifacts / "gha-102-1" / "run.json").read_text())
    assert {s["status"] for s in run["steps"].values()} == {"cached"}  # the store came back

    worse = run_job(workflow, repo, tmp_path / "job3", cache=cache, find_links=links, run_id=103,
                    inputs={"shift": "4"}, python=fresh_python(tmp_path / "py3", runner_env))  # fmt: skip
    assert not worse.ok
    said = worse.output("Run the pipeline")
    assert "error = 0.5 is worse than" in said and "--max-regression error=0.1" in said, said
    run = json.loads((worse.artifacts / "gha-103-1" / "run.json").read_text())
    assert run["status"] == "failed" and not run["models"]["threshold"].get("registered")


@pytest.mark.integration
@pytest.mark.xdist_group("runner")
def test_in_nb2pipes_own_repository_the_workflow_installs_the_checkout(runner_env, tmp_path):
    repo = tmp_path / "nb2pipe-repo"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for rel in filter(None, listed):
        if (REPO / rel).is_file() and not rel.startswith(("tests/", "jupyterlab/")):
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, repo / rel)
    project(repo)
    nb2pipe_cli(repo, "export", "github-actions", "pipelines/tiny")
    workflow = repo / ".github" / "workflows" / "tiny.yml"
    assert workflow_env(workflow)["NB2PIPE_REQUIREMENT"] == "."
    job = run_job(workflow, repo, tmp_path / "job", cache={}, find_links=[runner_env / "wheelhouse"],
                  python=fresh_python(tmp_path / "py", runner_env))  # fmt: skip
    assert job.ok, _said(job)
    assert "Successfully installed nb2pipe-" in job.output("Install")
    assert json.loads((job.artifacts / "gha-101-1" / "run.json").read_text())["status"] == "ok"


@pytest.mark.integration
@pytest.mark.xdist_group("airflow")
def test_the_airflow_dag_runs_after_the_project_moved(airflow_env, tmp_path):
    source = tmp_path / "laptop" / "proj"
    project(source)
    nb2pipe_cli(source, "export", "airflow", "pipelines/tiny", "-o", "dags/tiny_dag.py")
    text = (source / "dags" / "tiny_dag.py").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert str(tmp_path) not in code  # the converting machine's paths are not in it
    assert 'STORE = "runs/store"' in code and 'PACKAGE_PATH = "pipelines"' in code
    worker = tmp_path / "worker" / "srv" / "proj"
    worker.parent.mkdir(parents=True)
    source.rename(worker)  # the laptop's folder is gone
    dag = worker / "dags" / "tiny_dag.py"

    for n, env in enumerate(
        ({"NB2PIPE_PROJECT_ROOT": str(worker)}, {"AIRFLOW_VAR_NB2PIPE_PROJECT_ROOT": str(worker)})
    ):
        proc, states = dags_test_with(airflow_env, tmp_path / f"airflow{n}", dag, "tiny", env)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        assert set(states.values()) == {"success"} and len(states) == 3, states
    records = sorted((worker / "runs" / "store" / "runs").glob("*/steps/evaluate.json"))
    assert len(records) == 2
    assert json.loads(records[0].read_text())["metrics"] == {"error": 0.0}
