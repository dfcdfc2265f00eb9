"""Runs that do not end normally end with a true record (issue 16): a step leaving the
process, signals, and the supervisor of `python -m <package>` / `nb2pipe run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from runtime_helpers import S

from nb2pipe.mlops.runs import read_run

pytestmark = pytest.mark.integration

NB2PIPE = [sys.executable, "-m", "nb2pipe.frontends.cli"]


def _runs_json(pkg: Any) -> list[dict[str, Any]]:
    r = subprocess.run([*NB2PIPE, "runs", "list", "--json", "--runs-dir", str(pkg.runs)],
                       capture_output=True, text=True, env=pkg.env(), timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return _strict(r.stdout)  # type: ignore[no-any-return]


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def three(body: str, imports: str = "import os\nimport sys\nimport time") -> list[S]:
    return [
        S("first", "a = 1", outputs=("a",)),
        S("middle", body, inputs={"a": "first"}, outputs=("b",), imports=imports, cell=4),
        S("last", "c = b + 1", inputs={"b": "middle"}, outputs=("c",)),
    ]


@pytest.mark.parametrize("how", ["python-m", "nb2pipe-run"])
def test_os_exit_in_a_step_is_a_crash_not_a_success(make_pkg: Any, how: str) -> None:
    pkg = make_pkg(three("os._exit(0)\nb = a"))
    if how == "python-m":
        r = pkg.cli("--run-id", "gone")
    else:
        r = subprocess.run([*NB2PIPE, "run", pkg.name, "--runs-dir", str(pkg.runs),
                            "--run-id", "gone"], cwd=pkg.root, env=pkg.env(),
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 1, (r.stdout, r.stderr)
    rec = read_run(pkg.runs / "gone")
    assert rec["status"] == "crashed"
    steps = {n: s["status"] for n, s in rec["steps"].items()}
    assert steps == {"first": "ok", "middle": "failed", "last": "skipped"}
    assert rec["steps"]["middle"]["error"]["kind"] == "crash"
    assert "os._exit()" in rec["error"] and "'middle'" in rec["error"]
    assert [x["status"] for x in _runs_json(pkg)] == ["crashed"]


@pytest.mark.parametrize("call", ["sys.exit(0)", "exit()", "raise SystemExit(3)"])
def test_sys_exit_in_a_step_fails_it_naming_cell_and_line(make_pkg: Any, call: str) -> None:
    pkg = make_pkg(three(f"b = a\n{call}"))
    r = pkg.cli("--run-id", "exits")
    assert r.returncode == 1, r.stderr
    assert "step 'middle' failed at cell 4, line 2" in r.stderr, r.stderr
    rec = read_run(pkg.runs / "exits")
    assert rec["status"] == "failed"
    assert rec["steps"]["middle"]["error"]["type"] == "SystemExit"
    assert (rec["steps"]["middle"]["error"]["cell"], rec["steps"]["middle"]["error"]["line"]) == (
        4,
        2,
    )
    assert rec["steps"]["last"]["status"] == "skipped"


def test_a_run_killed_with_sigkill_shows_as_crashed(make_pkg: Any) -> None:
    pkg = make_pkg(three("open('started', 'w').close()\ntime.sleep(60)\nb = a"))
    proc = pkg.popen("--run-id", "killed")
    _wait_for(pkg.workdir / "started", proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the supervisor, and with it the run (Linux)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while read_run(pkg.runs / "killed")["pid"] and psutil.pid_exists(
        read_run(pkg.runs / "killed")["pid"]
    ):
        assert time.monotonic() < deadline, "the run's process outlived its supervisor"
        time.sleep(0.05)
    assert (
        json.loads((pkg.runs / "killed" / "run.json").read_text())["status"] == "running"
    )  # as written
    (listed,) = _runs_json(pkg)
    assert listed["status"] == "crashed"
    shown = read_run(pkg.runs / "killed")
    assert shown["status"] == "crashed" and shown["steps"]["first"]["status"] == "ok"


def test_a_reused_pid_is_not_a_running_run(tmp_path: Path) -> None:
    """A record naming a live pid whose process started at another time is crashed."""
    from nb2pipe.runtime.supervise import observed, process_started

    me = os.getpid()
    started = process_started(me)
    assert started is not None
    base = {"status": "running", "pid": me, "host": __import__("socket").gethostname()}
    assert observed({**base, "pid_started": started})["status"] == "running"
    assert observed({**base, "pid_started": started - 3600})["status"] == "crashed"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert observed({**base, "pid": int(gone.stdout)})["status"] == "crashed"


SLEEPER = "open('started', 'w').close()\nfor _ in range(600):\n    time.sleep(0.1)\nb = a"


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


@pytest.mark.parametrize(("sig", "jobs"), [("SIGTERM", "1"), ("SIGHUP", "1"), ("SIGTERM", "2")])
def test_sigterm_and_sighup_interrupt_like_ctrl_c(make_pkg: Any, sig: str, jobs: str) -> None:
    steps = three(SLEEPER)
    steps.append(S("side", "d = a", inputs={"a": "first"}, outputs=("d",)))
    pkg = make_pkg(steps)
    proc = pkg.popen("-j", jobs, "--run-id", "stopped")
    _wait_for(pkg.workdir / "started", proc)
    family = _descendants(proc.pid)
    assert family, "the run has a child process"
    os.kill(proc.pid, getattr(signal, sig))  # to the command only, as docker stop does
    _, err = proc.communicate(timeout=30)
    signum = int(getattr(signal, sig))
    assert proc.returncode == 128 + signum, err
    rec = read_run(pkg.runs / "stopped")
    assert rec["status"] == "interrupted" and rec["signal"] == sig
    assert rec["steps"]["middle"]["status"] == "failed"
    assert rec["steps"]["middle"]["error"]["kind"] == "interrupted"
    assert rec["steps"]["last"]["status"] == "skipped"
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"left running: {alive}"


def test_a_second_signal_kills_at_once(make_pkg: Any) -> None:
    stubborn = (
        "open('started', 'w').close()\n"
        "for _ in range(2):\n"
        "    try:\n"
        "        time.sleep(120)\n"
        "    except KeyboardInterrupt:\n"
        "        open('ignored', 'w').close()\n"
        "b = a"
    )
    pkg = make_pkg(three(stubborn))
    proc = pkg.popen("--run-id", "twice")
    _wait_for(pkg.workdir / "started", proc)
    family = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGTERM)
    _wait_for(pkg.workdir / "ignored", proc)  # the step swallowed the first one
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 128 + signal.SIGTERM
    rec = read_run(pkg.runs / "twice")
    assert rec["status"] == "interrupted" and rec["signal"] == "SIGTERM"
    assert rec["steps"]["middle"]["status"] == "failed"
    assert not psutil.wait_procs(family, timeout=10)[1]


def test_sigterm_during_a_background_artifact_write(make_pkg: Any) -> None:
    """A 64 MB array is stored by the background writer while the next step runs; a
    SIGTERM then leaves every artifact whole and every cache entry pointing at one."""
    from test_processes import check_store

    big = "import numpy as np\nbig = np.random.default_rng(0).random(8_000_000)"
    pkg = make_pkg([
        S("make", big, outputs=("big",)),
        S("wait", "open('started', 'w').close()\ntime.sleep(60)\nn = 1", outputs=("n",),
          imports="import time", after=("make",)),
        S("use", "m = float(big[0]) + n", inputs={"big": "make", "n": "wait"}, outputs=("m",)),
    ])  # fmt: skip
    proc = pkg.popen("--run-id", "term")
    _wait_for(pkg.workdir / "started", proc)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    rec = read_run(pkg.runs / "term")
    assert rec["status"] == "interrupted"
    check_store(pkg.runs / "store")
    assert not list((pkg.runs / "store" / "objects").glob("tmp/*.tmp"))
    entries = [
        e for e in (pkg.runs / "store" / "steps").glob("*/*.json") if ".latest." not in e.name
    ]
    for entry in entries:  # an entry exists only for whole, stored outputs
        for ref in json.loads(entry.read_text()).get("outputs", {}).values():
            assert list((pkg.runs / "store" / "objects").glob(f"*/{ref['hash']}*"))
    make = rec["steps"]["make"]
    assert make["status"] in ("ok", "failed")
    if make["status"] == "ok":  # written before the signal: durable, with its entry
        assert len(entries) == 1
    else:  # dropped whole: no entry
        assert "interrupted" in make["error"]["message"] and not entries


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_nan_parameters_keep_runs_list_json_valid(make_pkg: Any) -> None:
    pkg = make_pkg([S("one", "y = x * 2", outputs=("y",), params=("x",), metrics=("y",))],
                   [("x", float, 1.0)])  # fmt: skip
    assert pkg.cli("-p", "x=nan", "--run-id", "n").returncode == 0
    assert pkg.cli("-p", "x=inf", "--run-id", "i").returncode == 0
    runs = {r["run_id"]: r for r in _runs_json(pkg)}
    assert runs["n"]["parameters"] == {"x": "nan"} and runs["i"]["metrics"] == {"y": "inf"}
    r = subprocess.run([*NB2PIPE, "runs", "show", "n", "--json", "--runs-dir", str(pkg.runs)],
                       capture_output=True, text=True, env=pkg.env(), timeout=60)  # fmt: skip
    assert _strict(r.stdout)["parameters"] == {"x": "nan"}


@pytest.mark.parametrize("leftover", ["thread", "process"])
def test_a_step_leaving_a_thread_or_process_does_not_hold_the_run(
    make_pkg: Any, leftover: str
) -> None:
    start = {
        "thread": "threading.Thread(target=time.sleep, args=(120,)).start()",
        "process": "multiprocessing.get_context('fork').Process(target=time.sleep, args=(120,)).start()",
    }[leftover]
    pkg = make_pkg(
        three(f"{start}\nb = a", "import multiprocessing\nimport threading\nimport time")
    )
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", pkg.name, "--runs-dir", str(pkg.runs),
                             "--run-id", "left"], cwd=pkg.root, env=pkg.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    assert proc.wait(timeout=60) == 0
    assert time.monotonic() - t0 < 60
    assert read_run(pkg.runs / "left")["status"] == "ok"


WHO = "open('who', 'w').write(open('/proc/self/cmdline').read())\nb = a"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_supervised_run_is_a_fork_of_the_command(make_pkg: Any) -> None:
    """No second interpreter to start and import into: the child is a fork."""
    pkg = make_pkg(three(WHO))
    r = pkg.cli("--run-id", "forked")
    assert r.returncode == 0, r.stderr
    cmdline = (pkg.workdir / "who").read_text().split("\0")
    assert cmdline[1:3] == ["-m", pkg.name], cmdline  # the command's own
    assert read_run(pkg.runs / "forked")["status"] == "ok"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_with_another_thread_running_the_supervised_run_is_a_new_interpreter(
    make_pkg: Any,
) -> None:
    """Forking a process with threads is unsafe: then the child is a new interpreter."""
    import threading

    from nb2pipe.runtime.runner import main

    pkg = make_pkg(three(WHO))
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        args = ["--runs-dir", str(pkg.runs), "--run-id", "spawned", "-q"]
        code = main(pkg.pipeline(), args, supervised=True)
    finally:
        stop.set()
        thread.join()
    assert code == 0
    cmdline = (pkg.workdir / "who").read_text().split("\0")
    assert cmdline[1:3] == ["-m", "nb2pipe.runtime.supervise"], cmdline
    assert read_run(pkg.runs / "spawned")["status"] == "ok"
