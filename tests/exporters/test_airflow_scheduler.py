"""The exported DAG under a real Airflow 3 scheduler: ``airflow standalone`` (scheduler,
dag-processor, triggerer and api-server processes) with the LocalExecutor on SQLite, in the
cached Airflow venv; each task runs in its own process and artifacts pass through the store.
The test triggers the DAG, waits for the run, and compares the metrics with a local run;
a failing gate fails its task and the tasks after it never run. One server for the module
(its start costs tens of seconds)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exporter_helpers import TINY, WINE, engine_envs, local_run, run_engine

from nb2pipe.exporters import export

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("airflow")]


class Airflow:
    def __init__(self, venv: Path, home: Path, dags: Path, env: dict[str, str]) -> None:
        self.venv, self.home, self.dags, self.env = venv, home, dags, env

    def query(self, sql: str, *args: Any) -> list[Any]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, args).fetchall()

    def cli(self, *args: str) -> Any:
        cmd = [str(self.venv / "bin" / "airflow"), *args]
        return run_engine(cmd, self.env, self.home, timeout=300)

    def run_dag(self, dag_file: Path, dag_id: str, conf: dict[str, Any]) -> tuple[str, dict]:
        """Given a DAG file exported into the DAGs folder (its path to the project, relative
        to itself, then leads to the package, as in a deployment), wait for the
        dag-processor to parse it, trigger it, and wait for the run's end: (its state,
        {task: state})."""
        assert dag_file.parent == self.dags
        deadline = time.monotonic() + 300
        while not self.query("SELECT 1 FROM dag WHERE dag_id = ?", dag_id):
            assert time.monotonic() < deadline, "the dag-processor did not parse the DAG"
            time.sleep(2)
        assert self.cli("dags", "unpause", dag_id).returncode == 0
        proc = self.cli("dags", "trigger", dag_id, "-c", json.dumps(conf))
        assert proc.returncode == 0, proc.stderr[-2000:]
        while True:
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = ?", dag_id)
            if rows and rows[0][0] in ("success", "failed"):
                break
            assert time.monotonic() < deadline + 600, f"the run did not end: {rows}"
            time.sleep(3)
        tasks = self.query("SELECT task_id, state, pid FROM task_instance WHERE dag_id = ?", dag_id)
        return rows[0][0], {t: (s, pid) for t, s, pid in tasks}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    venv = engine_envs.ensure("airflow")
    tmp = tmp_path_factory.mktemp("airflow-scheduler")
    home, dags = tmp / "home", tmp / "dags"
    home.mkdir()
    dags.mkdir()
    shutil.copy(engine_envs.airflow_db(venv), home / "airflow.db")
    port = _free_port()
    env = engine_envs.airflow_environ(venv, home, dags)
    env.update(
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__CORE__PARALLELISM="2",
    )
    log = open(home / "standalone.log", "w", encoding="utf-8")  # noqa: SIM115
    server = subprocess.Popen(
        [str(venv / "bin" / "airflow"), "standalone"],
        env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield Airflow(venv, home, dags, env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_triggered_wine_dag_matches_the_local_run(airflow: Airflow, packages, tmp_path) -> None:
    pkg = packages(WINE, "wine")
    local = local_run(pkg, tmp_path / "local-runs")
    assert local.ok, local.error
    store = tmp_path / "shared-store"
    dag_file = airflow.dags / "wine_sched_dag.py"
    export("airflow", pkg, dag_file, {"store": str(store), "retries": 1})
    state, tasks = airflow.run_dag(dag_file, "wine_classifier", {})
    assert state == "success", tasks
    assert {s for s, _ in tasks.values()} == {"success"}
    assert len({pid for _, pid in tasks.values()}) == len(tasks)  # a process per task
    (record_path,) = store.glob("runs/*/steps/evaluate.json")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    assert record["metrics"] == local.metrics and local.metrics


def test_triggered_failing_gate_stops_the_later_tasks(airflow: Airflow, packages, tmp_path) -> None:
    pkg = packages(TINY, "tiny")
    store = tmp_path / "store"
    dag_file = airflow.dags / "tiny_sched_dag.py"
    export("airflow", pkg, dag_file, {"store": str(store), "retries": 2})
    state, tasks = airflow.run_dag(dag_file, "tiny_gate", {"min_rows": 1000})
    assert state == "failed", tasks
    assert tasks["load"][0] == "success"
    assert tasks["check_load"][0] == "failed"
    assert tasks["train"][0] == tasks["score"][0] == "upstream_failed"
    records = {p.stem for p in store.glob("runs/*/steps/*.json")}
    assert records == {"load", "check_load"}  # train and score never ran
