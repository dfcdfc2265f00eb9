"""--executor ray on a real local Ray runtime, in Ray's own cached engine venv
(tests/engines/engine_envs.py; nb2pipe from this checkout on PYTHONPATH): the wine
sample's metrics and stored bytes equal a local run's, a data file reaches a worker
running in an empty scratch folder, a killed worker's task runs again, and a worker
lacking a distribution is one line naming it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cluster_helpers import (
    DATA_NB,
    PROBE_NB,
    REPO,
    SAMPLES,
    assert_refused_run_recorded,
    convert,
    data_project,
    engine_envs,
    metrics_of,
    run_package,
    store_problems,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ray")]


@pytest.fixture(scope="module")
def ray_env() -> Path:
    return engine_envs.ensure("ray")


def ray_run(venv: Path, package: Path, runs: Path, *args: str, prelude: str = "") -> Any:
    """``python -m <package> --executor ray -j 2 ...`` in the Ray venv (``prelude``: code
    run first in the driver only)."""
    code = (
        f"{prelude}\nimport runpy, sys\nsys.argv = [{package.name!r}] + sys.argv[1:]\n"
        f"runpy.run_module({package.name!r}, run_name='__main__', alter_sys=True)"
    )
    env = engine_envs.engine_environ(
        venv, PYTHONPATH=f"{REPO}:{package.parent}", RAY_USAGE_STATS_ENABLED="0"
    )
    return subprocess.run(
        [str(engine_envs.python_of(venv)), "-c", code, "--executor", "ray", "-j", "2",
         "--runs-dir", str(runs), "--no-register", "-q", *args],
        env=env, cwd=runs.parent, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def run_dir_of(runs: Path) -> Path:
    (run_dir,) = [p for p in runs.iterdir() if p.name not in ("store", "registry")]
    return run_dir


def metrics_file(runs: Path) -> dict[str, Any]:
    data = json.loads((run_dir_of(runs) / "metrics.json").read_text(encoding="utf-8"))
    return {k: v["value"] for k, v in data["metrics"].items()}


def test_wine_metrics_and_bytes_equal_a_local_run(ray_env: Path, tmp_path: Path) -> None:
    package = convert(SAMPLES / "wine_classifier.ipynb", tmp_path / "pkgs", "wine")
    local = run_package(package, tmp_path / "local")
    runs = tmp_path / "ray"
    proc = ray_run(ray_env, package, runs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics_file(runs) == metrics_of(local) and metrics_of(local)
    record = json.loads((run_dir_of(runs) / "run.json").read_text(encoding="utf-8"))
    assert {s["status"] for s in record["steps"].values()} == {"ok"}
    stored = {
        n: {k: r["hash"] for k, r in s["outputs"].items()} for n, s in record["steps"].items()
    }
    assert stored == {n: {k: r.hash for k, r in refs.items()} for n, refs in local.outputs.items()}


def test_data_files_and_a_killed_worker(ray_env: Path, tmp_path: Path) -> None:
    project = data_project(tmp_path)
    package = convert(project / DATA_NB.name, tmp_path / "pkgs", "data")
    marker = tmp_path / "crashed-once"
    runs = tmp_path / "ray"
    proc = ray_run(ray_env, package, runs, "-p", f"crash_marker={marker}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert marker.exists()  # the first attempt killed its worker process; the retry ran
    assert metrics_file(runs) == {"total": 50.0, "rows": 4}
    record = json.loads((run_dir_of(runs) / "run.json").read_text(encoding="utf-8"))
    listing = record["steps"]["load"]["outputs"]["listing"]
    from nb2pipe.runtime.store import ArtifactRef, LocalStore

    ref = ArtifactRef(listing["hash"], listing["format"], listing["size"])
    assert LocalStore(runs / "store").load(ref) == ["data"]  # an empty scratch folder
    from nb2pipe.runtime.cluster.datafiles import scratch_root

    assert not scratch_root(str(run_dir_of(runs))).exists()  # removed at shutdown, as Dask's
    assert store_problems(runs / "store") == []


def test_a_worker_lacking_a_distribution_is_one_line(ray_env: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"  # on the driver's sys.path only
    (site / "nb2pipe_probe").mkdir(parents=True)
    (site / "nb2pipe_probe" / "__init__.py").write_text("VALUE = 7\n", encoding="utf-8")
    (site / "nb2pipe_probe-1.2.dist-info").mkdir()
    (site / "nb2pipe_probe-1.2.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nb2pipe-probe\nVersion: 1.2\n", encoding="utf-8"
    )
    sys.path.insert(0, str(site))
    try:
        package = convert(PROBE_NB, tmp_path / "pkgs", "probe")
    finally:
        sys.path.remove(str(site))
    runs = tmp_path / "ray"
    proc = ray_run(ray_env, package, runs, prelude=f"import sys; sys.path.insert(0, {str(site)!r})")
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "error: ray worker " in errors[0]
    assert "nb2pipe-probe is not installed (here 1.2)" in errors[0]
    assert "Traceback" not in proc.stderr
    assert_refused_run_recorded(runs, errors[0].removeprefix("error: "))
