"""Helpers of the serving tests: a real ``nb2pipe serve`` process on 127.0.0.1 and real
httpx clients (one uniquely named module; no imports from conftest files)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from mlops_helpers import SKLEARN, convert, env, run_cli, wine_csv

FEATURES = [
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
    "od280/od315_of_diluted_wines", "proline",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wine_rows(n: int | None = None, **shift: float) -> tuple[list[dict[str, float]], list[int]]:
    """scikit-learn's wine data as request records and labels (columns shifted by +x)."""
    from sklearn.datasets import load_wine

    df = load_wine(as_frame=True).frame
    for column, change in shift.items():
        df[column] = df[column] + change
    df = df if n is None else df.iloc[:n]
    labels = [int(v) for v in df.pop("target")]
    return df.to_dict(orient="records"), labels


def trained(folder: Path, *args: str) -> str:
    """The SKLEARN notebook converted and run once in ``folder``: wine:1 is the champion."""
    package = convert(folder, SKLEARN)
    wine_csv(folder / "nb" / "wine.csv")
    done = run_cli(folder, package, *args)
    assert done.returncode == 0, done.stderr
    return package


def cli(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from nb2pipe.frontends.cli import main; main()", *args]
    return subprocess.run(
        cmd, cwd=folder, env=env(folder), capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Server:
    """``nb2pipe serve ARGS`` in ``folder``; stopped (SIGTERM, then SIGKILL) on exit."""

    folder: Path
    args: tuple[str, ...]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        cmd = [sys.executable, "-c", "from nb2pipe.frontends.cli import main; main()", "serve",
               *self.args, "--port", str(self.port), "--runs-dir", "runs"]  # fmt: skip
        self.log = open(self.folder / f"serve-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=self.folder, env=env(self.folder), stdout=self.log, stderr=self.log,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.__exit__()
                raise AssertionError(f"the server did not start:\n{self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        return (self.folder / f"serve-{self.port}.log").read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=60)

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.kill(signal.SIGTERM)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
        self.log.close()


@dataclass
class Load:
    """``clients`` threads, each with its own httpx client, posting one record at a time
    until stopped; every response (or error) is kept."""

    url: str
    records: list[dict[str, Any]]
    clients: int = 4
    results: list[list[tuple[int, Any]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Load:
        self.results = [[] for _ in range(self.clients)]
        self.threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True)
            for i in range(self.clients)
        ]
        for t in self.threads:
            t.start()
        return self

    def _client(self, i: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            n = i
            while not self.stop.is_set():
                record = self.records[n % len(self.records)]
                n += self.clients
                try:
                    r = client.post("/predict", json={"records": [record]})
                    self.results[i].append((r.status_code, r.json()))
                except (httpx.HTTPError, ValueError) as exc:
                    self.results[i].append((0, repr(exc)))
                    if self.stop.wait(0.05):
                        return

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def answered(self) -> list[dict[str, Any]]:
        return [body for res in self.results for code, body in res if code == 200]
