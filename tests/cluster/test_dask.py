"""--executor dask on a real distributed.LocalCluster (worker processes): the samples'
metrics equal a local run's and share its cache keys, a data file reaches a worker whose
working folder is empty, a killed worker's task runs again, and a worker lacking a
distribution is refused in one line before any task."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_helpers import (
    DATA_NB,
    PROBE_NB,
    SAMPLES,
    assert_refused_run_recorded,
    convert,
    data_project,
    metrics_of,
    output_keys,
    run_package,
    store_problems,
)

from nb2pipe.runtime.cluster.datafiles import scratch_root
from nb2pipe.runtime.errors import UsageError

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dask")]


@pytest.mark.parametrize("sample", ["wine_classifier", "diabetes_regression"])
def test_sample_metrics_and_cache_keys_equal_a_local_run(
    sample: str, dask_cluster, tmp_path: Path
) -> None:
    package = convert(SAMPLES / f"{sample}.ipynb", tmp_path / "pkgs", sample.split("_")[0])
    local = run_package(package, tmp_path / "local")
    assert local.ok, local.error
    runs = tmp_path / "dask"
    remote = run_package(
        package, runs, executor="dask", address=dask_cluster.scheduler_address, jobs=2
    )
    assert remote.ok, remote.error
    assert metrics_of(remote) == metrics_of(local)
    assert output_keys(remote) == output_keys(local)  # every value, by its digest
    pids = {s["pid"] for s in remote.steps.values()}
    assert os.getpid() not in pids  # the steps ran in the workers
    assert {s["status"] for s in remote.steps.values()} == {"ok"}
    # the same cache keys: a local run on the cluster's store reuses every step
    again = run_package(package, runs)
    assert {s["status"] for s in again.steps.values()} == {"cached"}
    assert metrics_of(again) == metrics_of(local)


def test_data_files_reach_an_empty_working_folder_and_a_killed_worker_is_retried(
    dask_cluster, tmp_path: Path
) -> None:
    project = data_project(tmp_path)
    package = convert(project / DATA_NB.name, tmp_path / "pkgs", "data")
    local = run_package(package, tmp_path / "local")
    assert local.ok, local.error
    assert "data_and_crash.py" in local.load("load", "listing")  # the project folder
    marker = tmp_path / "crashed-once"
    runs = tmp_path / "dask"
    remote = run_package(
        package,
        runs,
        executor="dask",
        address=dask_cluster.scheduler_address,
        jobs=2,
        params={"crash_marker": str(marker)},
    )
    assert remote.ok, remote.error
    assert marker.exists()  # the first attempt killed its worker; the retry completed
    assert metrics_of(remote) == metrics_of(local) == {"total": 50.0, "rows": 4}
    # the worker ran the step in its scratch folder, which holds only the data files
    assert remote.load("load", "listing") == ["data"]
    assert not scratch_root(str(remote.run_dir)).exists()  # removed at shutdown
    staged = sorted(p.name for p in (runs / "store" / "datafiles").glob("??/*"))
    assert len(staged) == 2  # table.csv and lookup.csv, each once by content
    assert store_problems(runs / "store") == []
    # cache keys are those of a local run: changing a data file reruns its step
    (project / "data" / "table.csv").write_text("value\n1\n", encoding="utf-8")
    after = run_package(package, runs, executor="dask", address=dask_cluster.scheduler_address)
    assert after.ok, after.error
    assert after.metrics == {"total": 32.0, "rows": 1}
    assert len(list((runs / "store" / "datafiles").glob("??/*"))) == 3


def test_an_fsspec_store_url_every_worker_reaches(dask_cluster, tmp_path: Path) -> None:
    """--store file://...: the fsspec store (the code path of s3:// or gs://) carries the
    artifacts and the data files between this process and the workers."""
    project = data_project(tmp_path)
    package = convert(project / DATA_NB.name, tmp_path / "pkgs", "data")
    on_cluster = {"executor": "dask", "address": dask_cluster.scheduler_address, "jobs": 2}
    folder = run_package(package, tmp_path / "folder", **on_cluster)
    assert folder.ok, folder.error
    shared = tmp_path / "shared-store"
    url = f"file://{shared}"
    remote = run_package(package, tmp_path / "dask", store=url, **on_cluster)
    assert remote.ok, remote.error
    assert metrics_of(remote) == metrics_of(folder)
    assert output_keys(remote) == output_keys(folder)  # the same bytes as in a folder store
    assert remote.load("load", "listing") == ["data"]  # the worker's scratch folder
    assert len(list((shared / "datafiles").glob("??/*"))) == 2
    assert store_problems(shared) == []
    again = run_package(package, tmp_path / "again", store=url)
    assert {s["status"] for s in again.steps.values()} == {"cached"}


def test_a_worker_lacking_a_distribution_is_one_line_naming_it(
    dask_cluster, tmp_path: Path
) -> None:
    site = tmp_path / "site"  # a distribution here only (the workers started before it)
    (site / "nb2pipe_probe").mkdir(parents=True)
    (site / "nb2pipe_probe" / "__init__.py").write_text("VALUE = 7\n", encoding="utf-8")
    info = site / "nb2pipe_probe-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nb2pipe-probe\nVersion: 1.2\n", encoding="utf-8"
    )
    sys.path.insert(0, str(site))
    try:
        package = convert(PROBE_NB, tmp_path / "pkgs", "probe")
        with pytest.raises(UsageError) as info_:
            run_package(package, tmp_path / "runs", executor="dask",
                        address=dask_cluster.scheduler_address)  # fmt: skip
    finally:
        sys.path.remove(str(site))
    message = str(info_.value)
    assert "\n" not in message
    assert "dask worker tcp://127.0.0.1:" in message
    assert "nb2pipe-probe is not installed (here 1.2)" in message
    assert_refused_run_recorded(tmp_path / "runs", message)
    # the command line: exit code 2 and that line, no traceback
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(package.parent)])}
    proc = subprocess.run(
        [sys.executable, "-m", package.name, "--executor", "dask", "--address",
         dask_cluster.scheduler_address, "--runs-dir", str(tmp_path / "cli")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nb2pipe-probe is not installed" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert_refused_run_recorded(tmp_path / "cli", errors[0].removeprefix("error: "))


def test_own_local_cluster_from_the_command_line(tmp_path: Path) -> None:
    """No --address: the run starts a LocalCluster of -j N worker processes, and stops it."""
    project = data_project(tmp_path)
    package = convert(project / DATA_NB.name, tmp_path / "pkgs", "data")
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "nb2pipe.frontends.cli", "run", str(package), "--executor", "dask", "-j", "2",
         "--runs-dir", str(tmp_path / "runs"), "-q"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.name not in ("store", "registry")]
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    assert {k: v["value"] for k, v in metrics.items()} == {"total": 50.0, "rows": 4}
