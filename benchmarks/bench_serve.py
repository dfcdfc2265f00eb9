"""``nb2pipe serve`` (every prediction logged before it is answered) against ``mlflow models
serve`` on the same model, in this one script, on 127.0.0.1.

Sample notebook (a) is converted and run: its random forest is registered (local
registry), and the same model is written as an MLflow model (sklearn flavour, by
``nb2pipe.mlops.flavor`` in an interpreter with mlflow: the tests' cached MLflow venv, or
``--mlflow-python``). Each server runs one worker process; 8 concurrent clients (asyncio,
one keep-alive connection each) post one wine record per request for 20 s after a 3 s
warm-up, and the script prints throughput, p50 and p99 latency of both, their ratios, and
checks that the prediction log holds one row per answered request.

Target (issue 13): throughput >= MLflow's and p99 <= MLflow's, with every prediction logged.
Usage: ``python benchmarks/bench_serve.py [--seconds 20] [--clients 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAVE_MLFLOW_MODEL = """
import sys
from pathlib import Path
import nb2pipe
from nb2pipe.mlops import flavor
from nb2pipe.mlops.registry import open_registry
reg = open_registry("local", runs_dir=sys.argv[1])
mv = reg.get("wine")
model = reg.load(mv)
artifact = Path(sys.argv[1]) / "registry" / "wine" / "artifacts" / (
    mv.artifact["hash"] + "." + mv.artifact["format"])
print(flavor.save(Path(sys.argv[2]), model, artifact, mv.schema, reg.reference(mv)))
"""


CLI = [sys.executable, "-c", "from nb2pipe.frontends.cli import main; main()"]
VARIANTS = [
    ("nb2pipe serve (default: fsync)", []),
    ("nb2pipe serve --no-fsync", ["--no-fsync"]),
    ("nb2pipe serve --no-batching", ["--no-batching"]),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(folder: Path, python: str | None = None) -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])}
    if python:  # `mlflow models serve` runs `uvicorn` from PATH
        out["PATH"] = f"{Path(python).parent}{os.pathsep}{out.get('PATH', '')}"
    return out


def mlflow_python(given: str | None) -> str:
    if given:
        return given
    sys.path.insert(0, str(REPO / "tests" / "mlops"))
    from test_mlflow import mlflow_python as find  # builds the tests' venv on first use

    return find()


def start(cmd: list[str], folder: Path, environ: dict[str, str], url: str, log: Path) -> Any:
    import httpx

    handle = open(log, "wb")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(cmd, cwd=folder, env=environ, stdout=handle, stderr=handle,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, handle
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    stop((proc, handle))
    raise SystemExit(f"{cmd[:4]} did not start:\n{log.read_text(errors='replace')[-2000:]}")


def stop(server: Any) -> None:
    proc, handle = server
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
    handle.close()


async def load(url: str, bodies: list[bytes], clients: int, seconds: float, warmup: float):
    """(latencies in ms of the requests answered 200 in the measured window, errors,
    requests answered 200 in all)."""
    import httpx

    latencies: list[float] = []
    errors = answered = 0
    begin = time.perf_counter()
    measure_from, end = begin + warmup, begin + warmup + seconds

    async def client(k: int) -> None:
        nonlocal errors, answered
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(timeout=30) as http:
            n = k
            while (now := time.perf_counter()) < end:
                r = await http.post(url, content=bodies[n % len(bodies)], headers=headers)
                n += clients
                done = time.perf_counter()
                if r.status_code != 200:
                    errors += 1
                    continue
                answered += 1
                if now >= measure_from:
                    latencies.append((done - now) * 1000)

    await asyncio.gather(*(client(k) for k in range(clients)))
    return latencies, errors, answered


def summary(name: str, latencies: list[float], errors: int, seconds: float) -> dict[str, float]:
    import numpy as np

    arr = np.asarray(latencies)
    out = {
        "throughput": len(arr) / seconds,
        "p50": float(np.percentile(arr, 50)),
        "p99": float(np.percentile(arr, 99)),
        "errors": errors,
    }
    print(f"{name:<34} {out['throughput']:8.1f} req/s   p50 {out['p50']:7.2f} ms   "
          f"p99 {out['p99']:7.2f} ms   errors {errors}")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--mlflow-python", help="an interpreter with mlflow and nb2pipe")
    args = ap.parse_args()

    from sklearn.datasets import load_wine

    from nb2pipe import api

    mlpy = mlflow_python(args.mlflow_python)
    root = Path(tempfile.mkdtemp(prefix="nb2pipe-bench-serve-"))
    try:
        (root / "nb").mkdir()
        shutil.copy(REPO / "sample_notebooks" / "wine_classifier.ipynb", root / "nb")
        api.convert(root / "nb" / "wine_classifier.ipynb", root / "wine")
        done = subprocess.run([sys.executable, "-m", "wine", "--runs-dir", "runs", "-q"],
                              cwd=root, env=env(root), capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        saved = subprocess.run([mlpy, "-c", SAVE_MLFLOW_MODEL, "runs", "mlflow-model"],
                               cwd=root, env=env(root), capture_output=True, text=True)  # fmt: skip
        assert saved.returncode == 0 and "sklearn" in saved.stdout, saved.stderr

        df = load_wine(as_frame=True).frame
        df["flavanoid_ratio"] = df["flavanoids"] / df["total_phenols"]
        records = df.drop(columns="target").to_dict(orient="records")
        ours = [json.dumps({"records": [r]}).encode() for r in records]
        theirs = [json.dumps({"dataframe_records": [r]}).encode() for r in records]
        print(f"{args.clients} clients, one record per request, {args.seconds:g} s after a "
              f"{args.warmup:g} s warm-up, one server process each, 127.0.0.1\n")  # fmt: skip

        port = free_port()
        server = start(
            [mlpy, "-m", "mlflow", "models", "serve", "-m", "mlflow-model", "--env-manager",
             "local", "--host", "127.0.0.1", "--port", str(port), "-w", "1"],
            root, env(root, mlpy), f"http://127.0.0.1:{port}/ping", root / "mlflow.log",
        )  # fmt: skip
        try:
            lat, err, _ = asyncio.run(load(f"http://127.0.0.1:{port}/invocations", theirs,
                                           args.clients, args.seconds, args.warmup))  # fmt: skip
        finally:
            stop(server)
        base = summary("mlflow models serve", lat, err, args.seconds)
        print()
        for label, options in VARIANTS:
            log = root / "runs" / "predictions.db"
            for path in root.glob("runs/predictions.db*"):
                path.unlink()
            port = free_port()
            server = start(
                [*CLI, "serve", "wine", "--runs-dir", "runs", "--port", str(port), *options],
                root, env(root), f"http://127.0.0.1:{port}/health", root / "nb2pipe.log",
            )  # fmt: skip
            try:
                lat, err, answered = asyncio.run(load(f"http://127.0.0.1:{port}/predict", ours,
                                                      args.clients, args.seconds, args.warmup))  # fmt: skip
            finally:
                stop(server)
            mine = summary(label, lat, err, args.seconds)
            with sqlite3.connect(log) as db:
                logged = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            print(f"{'':<34} vs mlflow: throughput {mine['throughput'] / base['throughput']:.2f}x, "
                  f"p50 {mine['p50'] / base['p50']:.2f}x, p99 {mine['p99'] / base['p99']:.2f}x; "
                  f"log {logged} rows for {answered} answers")  # fmt: skip
        print("\ntarget: throughput >= 1.00x and p99 <= 1.00x of mlflow, every answer logged")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
