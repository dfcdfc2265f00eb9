"""`nb2pipe runs gc` on a store shared by two runs folders (issue 19 item 6) and while a run
is really running (issue 16), through the real CLI in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import S

from nb2pipe.mlops.runs import read_run

pytestmark = pytest.mark.integration

NB2PIPE = [sys.executable, "-m", "nb2pipe.frontends.cli"]
WAIT = "open('started', 'w').close()\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\nb = a * 10"


def _steps(middle: str = "b = a * 10") -> list[S]:
    return [
        S("first", "a = x + 1000", outputs=("a",), params=("x",)),
        S(
            "middle",
            middle,
            inputs={"a": "first"},
            outputs=("b",),
            imports="import os\nimport time",
        ),
        S("last", "c = b + 1", inputs={"b": "middle"}, outputs=("c",)),
    ]


def _run(pkg: Any, runs: Path, store: Path, x: int, run_id: str) -> None:
    r = pkg.cli("--runs-dir", str(runs), "--store", str(store), "-p", f"x={x}", "--run-id", run_id)
    assert r.returncode == 0, r.stderr


def _gc(pkg: Any, runs: Path, store: Path) -> dict[str, Any]:
    cmd = [*NB2PIPE, "runs", "gc", "--keep", "0", "--runs-dir", str(runs), "--store", str(store)]
    r = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=pkg.env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _artifacts(rec: dict[str, Any]) -> set[str]:
    return {r["hash"] for s in rec["steps"].values() for r in (s.get("outputs") or {}).values()}


def _stored(store: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (store / "objects").glob("??/*")}


def test_gc_of_one_runs_folder_keeps_what_the_other_uses(make_pkg: Any) -> None:
    pkg = make_pkg(_steps(), [("x", int, 1)])
    store, here, there = pkg.root / "shared", pkg.root / "here", pkg.root / "there"
    _run(pkg, here, store, 1, "h1")
    _run(pkg, there, store, 2, "t1")
    ours = _artifacts(read_run(here / "h1")) - _artifacts(read_run(there / "t1"))
    assert ours and ours <= _stored(store)

    result = _gc(pkg, here, store)
    assert result["removed"] == ["h1"] and result["store_shared_with"] == [str(there)]
    assert not (here / "h1").exists()
    assert _artifacts(read_run(there / "t1")) <= _stored(store)  # the other folder's stay
    assert not ours & _stored(store)  # ours, used by no run left, are gone
    _run(pkg, there, store, 2, "t2")  # its cache entries stayed too
    assert {s["status"] for s in read_run(there / "t2")["steps"].values()} == {"cached"}


def test_gc_spares_a_run_still_running_in_another_folder(make_pkg: Any) -> None:
    pkg = make_pkg(_steps(WAIT), [("x", int, 1)])
    store, here, there = pkg.root / "shared", pkg.root / "here", pkg.root / "there"
    (pkg.workdir / "go").touch()
    _run(pkg, here, store, 1, "h1")
    (pkg.workdir / "go").unlink()
    proc = pkg.popen("--runs-dir", str(there), "--store", str(store), "-p", "x=3", "--run-id", "t1")
    deadline = time.monotonic() + 60
    while not (pkg.workdir / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

    result = _gc(pkg, here, store)  # `first` of t1 is stored, maybe not yet in its record
    assert result["removed"] == ["h1"]
    (pkg.workdir / "go").touch()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    rec = read_run(there / "t1")
    assert rec["status"] == "ok" and _artifacts(rec) <= _stored(store)
    _run(pkg, there, store, 3, "t2")
    assert {s["status"] for s in read_run(there / "t2")["steps"].values()} == {"cached"}
