"""The supervisor: a run from the command line never ends with a record that lies.

``python -m <package>`` and ``nb2pipe run DIR`` run the pipeline in a child process (its
own process group; a fork of the command's process, which has imported the pipeline and
started no thread yet, else a new interpreter) and wait for it. What a step can do to the process that runs it
(``os._exit()``, a segfault, the kernel's OOM killer) cannot be caught there, so the
supervisor looks at the run's record when the child ends: a record still ``running``
becomes ``crashed`` (or ``interrupted`` when a signal stopped it), the steps that were
running are marked failed, and the exit code is never 0. Signals the supervisor receives
(SIGINT, SIGTERM, SIGHUP) are passed on once each (:mod:`.signals` handles them in the
child). The child leaves with ``os._exit`` once the run is recorded, so a non-daemon
thread or a child process a step left behind cannot keep the command from exiting.

For records read later (``runs list/show``, ``report``, ``runs gc``, the Lab panel),
:func:`observed` shows a run whose recorded process is gone, or whose pid now belongs to
another process (its start time differs), as ``crashed``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from nb2pipe.runtime.errors import EXIT_FAILED

if TYPE_CHECKING:
    from nb2pipe.runtime.spec import Pipeline

ENV = "NB2PIPE_SUPERVISED"  # set in the child: the file where it names its run folder
PARENT = "NB2PIPE_SUPERVISOR"  # and the supervisor's pid
MAIN = "NB2PIPE_SUPERVISED_MAIN"  # a new interpreter: main()'s prog and command (JSON)


def supervised() -> bool:
    return ENV in os.environ


def announce(run_dir: Path) -> None:
    """Tell the supervisor (if any) where this run's record is."""
    path = os.environ.get(ENV)
    if path:
        with contextlib.suppress(OSError):
            Path(path).write_text(str(run_dir), encoding="utf-8")


def supervise(
    package_root: Path,
    package: str,
    argv: Sequence[str],
    pipeline: Pipeline | None = None,
    *,
    prog: str | None = None,
    command: list[str] | None = None,
) -> int:
    """Run ``python -m <package> argv`` in a supervised child; its exit code. With the
    ``pipeline`` already imported and no other thread, the child is a fork of this process
    (nothing to import again); otherwise a new interpreter."""
    fd, note = tempfile.mkstemp(prefix="nb2pipe-run-", suffix=".txt")
    os.close(fd)
    parent = os.getpid()
    forwarded: list[int] = []
    child: list[int] = []

    def forward(signum: int, frame: object) -> None:
        forwarded.append(signum)
        if child:
            with contextlib.suppress(OSError):
                os.kill(child[0], signum)

    from nb2pipe.runtime.signals import SIGNALS

    saved = {s: signal.signal(s, forward) for s in SIGNALS}
    try:
        if pipeline is not None and hasattr(os, "fork") and threading.active_count() == 1:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()  # (else what is buffered is written twice)
            pid = os.fork()
            if pid == 0:
                for s, old in saved.items():
                    signal.signal(s, old)
                _forked(pipeline, note, parent, [sys.argv[0], *argv], prog, command)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)  # (the child does it too: whichever runs first)
            child.append(pid)
            code = _wait(pid)
        else:
            cmd = [sys.executable, "-m", __name__, str(package_root), package, sys.argv[0], *argv]
            group: dict[str, Any] = (
                {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
            )
            main_args = json.dumps({"prog": prog, "command": command})
            env = {**os.environ, ENV: note, PARENT: str(parent), MAIN: main_args}
            proc = subprocess.Popen(cmd, env=env, **group)
            child.append(proc.pid)
            code = proc.wait()
    finally:
        for s, old in saved.items():
            signal.signal(s, old)
    try:
        run_dir = Path(Path(note).read_text(encoding="utf-8")) if os.path.getsize(note) else None
    finally:
        os.unlink(note)
    return settle(run_dir, code, forwarded[0] if forwarded else None)


def _wait(pid: int) -> int:
    """The exit code of child ``pid`` (negative: the signal that killed it)."""
    try:
        _, status = os.waitpid(pid, 0)  # (retried after a signal handler, PEP 475)
    except ChildProcessError:
        return EXIT_FAILED
    return os.waitstatus_to_exitcode(status)


def settle(run_dir: Path | None, code: int, signum: int | None) -> int:
    """After the child ended with ``code`` (negative: killed by that signal): finish a
    record it left ``running``; the command's exit code."""
    unfinished = False
    if run_dir is not None:
        with contextlib.suppress(OSError, ValueError):
            unfinished = _close_record(run_dir, code, signum)
    if signum is not None and (code < 0 or unfinished):
        return 128 + signum
    if code < 0:
        return 128 - code
    return EXIT_FAILED if unfinished and code == 0 else code


def _close_record(run_dir: Path, code: int, signum: int | None) -> bool:
    from nb2pipe.runtime.fsutil import atomic_write_json, read_json
    from nb2pipe.runtime.records import iso, replay

    rec = read_json(run_dir / "run.json")  # the record this run wrote, completed here
    if not isinstance(rec, dict) or rec.get("status") != "running":
        return False
    replay(run_dir, rec)
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
    if signum is not None:
        status, kind = "interrupted", "interrupted"
        error = f"the run was stopped by {signal.Signals(signum).name} (the process {how})"
        rec["signal"] = signal.Signals(signum).name
    else:
        status, kind = "crashed", "crash"
        error = (
            f"the process running the pipeline {how} before the run finished: "
            "os._exit(), a crash of a library or running out of memory can do this"
        )
    running = [n for n, s in rec.get("steps", {}).items() if s.get("status") == "running"]
    if running and signum is None:
        error = f"step {running[0]!r}: {error}"
    now = iso(time.time())
    for step in rec.get("steps", {}).values():
        if step.get("status") == "running":
            step.update(status="failed", end=now, error={"kind": kind, "message": error})
        elif step.get("status") == "pending":
            step.update(status="skipped", reason=status)
    rec.update(status=status, end=now, error=error)
    atomic_write_json(run_dir / "run.json", rec)
    return True


# --- liveness of recorded runs -----------------------------------------------------------


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), None if unknown."""
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:  # noqa: BLE001 - gone, no permission, no psutil
        return None


def alive(rec: dict[str, Any]) -> bool:
    """Whether the process a record names may still be running it: True unless it is
    known dead (a process of this host that no longer exists, or a pid now used by a
    process that started later)."""
    pid = rec.get("pid")
    if rec.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    started, recorded = process_started(pid), rec.get("pid_started")
    if started is None or not isinstance(recorded, (int, float)):
        return True
    return abs(started - recorded) < 1.0


def observed(rec: dict[str, Any], run_dir: Path | None = None) -> dict[str, Any]:
    """``rec`` as seen now: ``running`` with a dead process becomes ``crashed`` (its
    steps completed from ``events.jsonl`` when ``run_dir`` is given)."""
    if rec.get("status") == "running" and not alive(rec):
        if run_dir is not None:
            from nb2pipe.runtime.records import replay

            replay(run_dir, rec)
        rec["status"] = "crashed"
        rec["error"] = rec.get("error") or (
            f"the process that ran it (pid {rec.get('pid')}) ended without finishing the record"
        )
    return rec


def die_with_parent(parent: int | None = None) -> None:
    """Linux: be killed (SIGKILL) when the process that started this one dies, so a
    supervisor or a run killed with SIGKILL leaves no child or worker running."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # it died before prctl
        os._exit(128 + int(signal.SIGKILL))


def _forked(
    pipeline: Pipeline,
    note: str,
    parent: int,
    argv: list[str],
    prog: str | None,
    command: list[str] | None,
) -> NoReturn:
    """The supervised run in a fork of the supervisor."""
    code = EXIT_FAILED
    try:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        os.environ[ENV], os.environ[PARENT] = note, str(parent)
        die_with_parent(parent)
        sys.argv = argv
        from nb2pipe.runtime.runner import main

        code = main(pipeline, argv[1:], prog=prog, command=command, supervised=False)
    except BaseException:  # noqa: BLE001 - say what happened, then leave as always
        traceback.print_exc()
    finally:
        _leave(code)


def _child(argv: list[str]) -> None:
    """The supervised run in a new interpreter (``python -m nb2pipe.runtime.supervise``)."""
    die_with_parent(int(os.environ.get(PARENT) or 0) or None)
    root, package, argv0, *args = argv
    sys.argv = [argv0, *args]
    if root not in sys.path:
        sys.path.insert(0, root)
    code = EXIT_FAILED
    try:
        from nb2pipe.runtime.runner import main

        given = json.loads(os.environ.pop(MAIN, "") or "{}")
        pipeline = importlib.import_module(f"{package}.pipeline").PIPELINE
        code = main(pipeline, args, prog=given.get("prog"), command=given.get("command"))
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        _leave(code)


def _leave(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if code > 128:  # stopped by a signal: no process of the run outlives it
        with contextlib.suppress(OSError):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.killpg(os.getpid(), signal.SIGTERM)
    os._exit(code)  # threads and child processes a step left behind do not hold us


if __name__ == "__main__":
    _child(sys.argv[1:])
