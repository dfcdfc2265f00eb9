"""The MLflow backend against a real MLflow tracking server that this test starts on
127.0.0.1 with a SQLite backend store (no mock).

MLflow comes from this interpreter when it has it (``pip install 'nb2pipe[mlflow]'``),
else from a virtual environment the test creates once and reuses
(``${NB2PIPE_TEST_ENVS:-~/.cache/nb2pipe-test-envs}/mlflow-<hash>``). The test is skipped only when
MLflow can be neither imported nor installed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlops_helpers import REPO, TINY, convert, env, write_values

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("mlflow")]

ENVS = Path(os.environ.get("NB2PIPE_TEST_ENVS", Path.home() / ".cache" / "nb2pipe-test-envs"))
MLFLOW = "mlflow>=2.10"


def _has_mlflow(python: str) -> bool:
    done = subprocess.run(
        [python, "-c", "import mlflow, nb2pipe"], capture_output=True, env=env(REPO)
    )
    return done.returncode == 0


def _venv() -> Path:
    """Keyed by the Python version, the mlflow requirement and the dependencies of nb2pipe
    and nb2pipe-runtime."""
    import hashlib

    import tomllib

    deps = []
    for pyproject in (REPO / "pyproject.toml", REPO / "nb2pipe" / "runtime" / "pyproject.toml"):
        config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        deps += sorted(config["project"].get("dependencies", []))
    key = hashlib.sha256(repr((sys.version_info[:2], MLFLOW, deps)).encode()).hexdigest()
    return ENVS / f"mlflow-{key[:12]}"


def mlflow_python() -> str:
    """An interpreter with mlflow and nb2pipe: this one, or a virtual environment built on
    first use (mlflow, and nb2pipe editable from this checkout) and cached outside the
    repository, under a file lock so parallel test workers build it once."""
    if _has_mlflow(sys.executable):
        return sys.executable
    import fcntl

    venv = _venv()
    python = venv / "bin" / "python"
    ENVS.mkdir(parents=True, exist_ok=True)
    with open(ENVS / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and _has_mlflow(str(python)):
            return str(python)
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                           capture_output=True)  # fmt: skip
            subprocess.run(
                # nb2pipe depends on nb2pipe-runtime, which lives in this checkout too
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    MLFLOW,
                    "-e",
                    str(REPO / "nb2pipe" / "runtime"),
                    "-e",
                    str(REPO),
                ],  # fmt: skip
                check=True,
                capture_output=True,
                timeout=1800,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"mlflow is not installable here: {exc} {detail[-300:]!r}")
    return str(python)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(python with mlflow, tracking URI) of a server on 127.0.0.1 with SQLite."""
    python = mlflow_python()
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    cmd = [
        python, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                text = (folder / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"the MLflow server did not start:\n{text}")
            time.sleep(0.5)
        yield python, uri
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _env(folder: Path) -> dict[str, str]:
    out = env(folder)
    for k in ("MLFLOW_TRACKING_URI", "NB2PIPE_TRACKING", "NB2PIPE_REGISTRY"):
        out.pop(k, None)
    return out


def run(python: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, *args], cwd=folder, env=_env(folder), capture_output=True, text=True, timeout=900
    )


def pipeline(python: str, uri: str, folder: Path, package: str, *args: str):
    cmd = ["-m", package, "--runs-dir", "runs", "--tracking", "mlflow", "--tracking-uri", uri]
    return run(python, folder, *cmd, *args)


def cli(python: str, uri: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    base = ["-c", "from nb2pipe.frontends.cli import main; main()"]
    return run(python, folder, *base, *args, "--tracking", "mlflow", "--tracking-uri", uri)


INSPECT = """
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
exp = c.get_experiment_by_name(sys.argv[2])
runs = c.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
model = c.get_registered_model(sys.argv[3])
out = {
    "runs": [
        {
            "name": r.info.run_name, "status": r.info.status, "params": r.data.params,
            "metrics": r.data.metrics, "tags": {k: v for k, v in r.data.tags.items()
                                                if k.startswith("nb2pipe.")},
            "artifacts": sorted(a.path for a in c.list_artifacts(r.info.run_id)),
        }
        for r in runs
    ],
    "aliases": {k: int(v) for k, v in model.aliases.items()},
    "versions": sorted(
        (int(v.version), v.run_id, v.tags.get("nb2pipe.run_id"))
        for v in c.search_model_versions("name = '" + sys.argv[3] + "'")
    ),
}
print(json.dumps(out))
"""


def inspect(python: str, uri: str, folder: Path, experiment: str, model: str) -> dict:
    done = run(python, folder, "-c", INSPECT, uri, experiment, model)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_mlflow_backend_end_to_end(server: tuple[str, str], tmp_path: Path) -> None:
    python, uri = server
    package = convert(tmp_path, TINY)
    write_values(tmp_path, [1, 2, 3, 7, 8, 9])

    first = pipeline(python, uri, tmp_path, package, "--run-id", "m1")
    assert first.returncode == 0, first.stderr
    assert "model threshold:1 registered; champion -> threshold:1 (first version" in first.stdout
    seen = inspect(python, uri, tmp_path, "model", "threshold")
    (r1,) = seen["runs"]
    assert r1["name"] == "m1" and r1["status"] == "FINISHED"
    assert r1["params"] == {"data_path": "data.json", "shift": "0.0", "max_error": "0.5"}
    assert r1["metrics"] == {"error": 0.0, "score": 1.0}
    assert r1["tags"]["nb2pipe.run_id"] == "m1" and r1["tags"]["nb2pipe.status"] == "ok"
    assert {"logs", "metrics.json", "nb2pipe-models", "run.json"} <= set(r1["artifacts"])
    assert seen["aliases"] == {"champion": 1}
    assert [(v[0], v[2]) for v in seen["versions"]] == [(1, "m1")]

    shown = cli(python, uri, tmp_path, "models", "show", "threshold", "--json")
    assert shown.returncode == 0, shown.stderr
    version = json.loads(shown.stdout)["version"]
    assert version["version"] == 1 and version["aliases"] == ["champion"]
    assert version["metrics"] == {"error": 0.0, "score": 1.0}
    assert version["directions"] == {"error": "lower", "score": "higher"}
    assert list(version["data"]["files"]) == ["data.json (parameter data_path)"]
    assert len(version["code"]["digest"]) == 64 and version["run_id"] == "m1"

    # unchanged: no new version; a failing gate: tracked, nothing registered
    same = pipeline(python, uri, tmp_path, package, "--run-id", "m2")
    assert same.returncode == 0 and "model threshold:1 unchanged" in same.stdout
    write_values(tmp_path, [1, -2, 3])
    bad = pipeline(python, uri, tmp_path, package, "--run-id", "m3")
    assert bad.returncode == 1 and "gate 'check_load' failed" in bad.stderr
    # new data: version 2 becomes the champion
    write_values(tmp_path, [1, 2, 3, 7, 8, 9, 10])
    new = pipeline(python, uri, tmp_path, package, "--run-id", "m4")
    assert new.returncode == 0, new.stderr
    seen = inspect(python, uri, tmp_path, "model", "threshold")
    assert [(r["name"], r["status"]) for r in seen["runs"]] == [
        ("m1", "FINISHED"),
        ("m2", "FINISHED"),
        ("m3", "FAILED"),
        ("m4", "FINISHED"),
    ]
    assert seen["aliases"] == {"champion": 2}
    assert [(v[0], v[2]) for v in seen["versions"]] == [(1, "m1"), (2, "m4")]
    assert "latest" not in seen["aliases"]

    # the baseline gate reads the champion from MLflow
    worse = pipeline(
        python, uri, tmp_path, package, "-p", "shift=3", "--max-regression", "error=0.05"
    )
    assert worse.returncode == 1, worse.stderr
    assert "baseline gate failed" in worse.stderr and "threshold:2 (champion)" in worse.stderr
    assert inspect(python, uri, tmp_path, "model", "threshold")["aliases"] == {"champion": 2}

    code = (
        "import nb2pipe, sys\n"
        "print(nb2pipe.load_model('threshold', tracking='mlflow', tracking_uri=sys.argv[1]))\n"
        "print(nb2pipe.load_model('threshold:1', tracking='mlflow', tracking_uri=sys.argv[1]))"
    )
    loaded = run(python, tmp_path, "-c", code, uri)
    assert loaded.stdout.split("\n")[:2] == [str({"cut": 40 / 7}), str({"cut": 5.0})], loaded.stderr

    listed = cli(python, uri, tmp_path, "models", "list", "--json")
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["champion"], row["versions"]) == ("threshold", 2, 2)
    promoted = cli(python, uri, tmp_path, "models", "promote", "threshold:1")
    assert promoted.returncode == 0 and "threshold:1 is now champion" in promoted.stdout

    (tmp_path / "new.csv").write_text("values\n20\n30\n40\n50\n")
    drift = cli(python, uri, tmp_path, "drift", "threshold", "--data", "new.csv", "--json")
    assert drift.returncode == 1, drift.stderr
    assert json.loads(drift.stdout)["drifted"] == ["values"]
    missing = cli(python, uri, tmp_path, "models", "show", "nope")
    assert missing.returncode == 2 and "no model 'nope'" in missing.stderr


def test_unreachable_server_is_a_usage_error_before_the_steps(
    server: tuple[str, str], tmp_path: Path
) -> None:
    python, _ = server
    package = convert(tmp_path, TINY)
    write_values(tmp_path, [1, 2, 3, 7, 8, 9])
    uri = f"http://127.0.0.1:{_free_port()}"
    done = run(
        python, tmp_path, "-m", package, "--runs-dir", "runs", "--tracking", "mlflow",
        "--tracking-uri", uri, "--run-id", "off",
    )  # fmt: skip
    assert done.returncode == 2
    assert f"cannot reach the MLflow tracking server at {uri}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs" / "off").exists()


LOAD_BACK = """
import json, sys
import mlflow
import pandas as pd
from sklearn.datasets import load_wine
import nb2pipe
mlflow.set_tracking_uri(sys.argv[1])
x = load_wine(as_frame=True).frame.drop(columns="target")
pyfunc = mlflow.pyfunc.load_model("models:/wine@champion")
sk = mlflow.sklearn.load_model("models:/wine@champion")
ours = nb2pipe.load_model("wine", tracking="mlflow", tracking_uri=sys.argv[1])
info = mlflow.models.get_model_info("models:/wine@champion")
tiny = mlflow.pyfunc.load_model("models:/threshold@champion")
print(json.dumps({
    "flavors": sorted(pyfunc.metadata.flavors),
    "same": bool((pyfunc.predict(x) == ours.predict(x)).all()),
    "type": type(sk).__name__,
    "inputs": pyfunc.metadata.get_input_schema().input_names(),
    "example": info.saved_input_example_info is not None,
    "tiny_flavors": sorted(tiny.metadata.flavors),
    "tiny_model": tiny.unwrap_python_model().model,
}))
"""


def test_registered_models_load_and_serve_in_mlflow(
    server: tuple[str, str], tmp_path: Path
) -> None:
    """scikit-learn estimators in MLflow's sklearn flavour (signature, input example),
    anything else as a pyfunc wrapper; loaded back by mlflow itself, served by `mlflow
    models serve`, and by `nb2pipe serve` following the champion alias in MLflow."""
    import httpx
    from mlops_helpers import SKLEARN, wine_csv
    from serve_helpers import FEATURES, wine_rows

    python, uri = server
    package = convert(tmp_path, SKLEARN)
    wine_csv(tmp_path / "nb" / "wine.csv")
    done = pipeline(python, uri, tmp_path, package, "--run-id", "w1")
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    tiny = convert(tmp_path / "t", TINY)
    write_values(tmp_path / "t", [1, 2, 3, 7, 8, 9])
    assert pipeline(python, uri, tmp_path / "t", tiny).returncode == 0

    loaded = run(python, tmp_path, "-c", LOAD_BACK, uri)
    assert loaded.returncode == 0, loaded.stderr
    seen = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert seen["flavors"] == ["python_function", "sklearn"] and seen["same"] is True
    assert seen["type"] == "LogisticRegression" and seen["inputs"] == FEATURES
    assert seen["example"] is True
    assert seen["tiny_flavors"] == ["python_function"]
    assert seen["tiny_model"] == {"cut": 5.0}
    shown = cli(python, uri, tmp_path, "models", "show", "wine", "--json")
    assert json.loads(shown.stdout)["version"]["extra"]["mlflow_flavor"] == "sklearn"

    records, labels = wine_rows(5)
    port = _free_port()
    serve_env = {**_env(tmp_path), "MLFLOW_TRACKING_URI": uri}
    serve_env["PATH"] = f"{Path(python).parent}{os.pathsep}{serve_env.get('PATH', '')}"
    cmd = [python, "-m", "mlflow", "models", "serve", "-m", "models:/wine@champion",
           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with _process(cmd, tmp_path, serve_env, f"http://127.0.0.1:{port}/ping"):
        r = httpx.post(f"http://127.0.0.1:{port}/invocations",
                       json={"dataframe_records": records}, timeout=60)  # fmt: skip
        assert r.status_code == 200, r.text
        mlflow_says = r.json()["predictions"]

    # nb2pipe serve against MLflow's registry, following its champion alias
    again = pipeline(python, uri, tmp_path, package, "-p", "C=0.01", "--promote", "never")
    assert "model wine:2 registered; champion stays wine:1" in again.stdout, again.stderr
    port = _free_port()
    cmd = [python, "-c", "from nb2pipe.frontends.cli import main; main()", "serve", "wine", "--tracking",
           "mlflow", "--tracking-uri", uri, "--port", str(port), "--poll", "0.5",
           "--runs-dir", "runs"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with _process(cmd, tmp_path, _env(tmp_path), url + "/health"):
        first = httpx.post(url + "/predict", json={"records": records}, timeout=60).json()
        assert first["version"] == 1 and first["predictions"] == mlflow_says == labels
        assert cli(python, uri, tmp_path, "models", "promote", "wine:2").returncode == 0
        deadline = time.time() + 60
        while httpx.get(url + "/health", timeout=10).json()["version"] != 2:
            assert time.time() < deadline
            time.sleep(0.3)
        assert httpx.post(url + "/predict", json={"records": records}).json()["version"] == 2


@contextlib.contextmanager
def _process(cmd: list[str], folder: Path, environ: dict[str, str], ready: str) -> Iterator[None]:
    log = open(folder / f"process-{time.time_ns()}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=folder, env=environ, stdout=log, stderr=log,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(ready, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"{cmd[:5]} did not start:\n{Path(log.name).read_text()[-2000:]}")
            time.sleep(0.5)
        yield
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
