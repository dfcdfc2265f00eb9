"""A run's parameters from the panel, and cancelling a run.

Parameters: the panel sends ``{name: text}`` for the values it changed, the text as typed
after ``nb2pipe run -p NAME=``. Each is parsed here exactly as ``-p`` parses it (the
runtime's ``parse_value``), so a bad value is refused before any worker starts, and handed
to the worker in a file (no size limit of a command line), which passes them to the run as
``-p`` arguments. Secrets are never accepted: they come from their environment variable.

Cancel: the worker gets SIGINT, as Ctrl-C gives a terminal's foreground process group;
the runtime then records the run as interrupted (the running step failed, the rest
skipped). A worker still alive after ``grace`` seconds (user code in a long C call) is
killed with its group and its run record is closed as interrupted here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2pipe_lab.service import Job, LabError

MAX_TEXT = 1 << 20  # characters of all the values together (the runtime's limit for one)
GRACE = 10.0  # seconds a cancelled run has to stop after SIGINT before it is killed


class ParamError(LabError):
    """A parameter value the run would refuse; ``param`` names it for the panel."""

    def __init__(self, message: str, param: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.param = param


def runtime_param(p: Any) -> Any:
    """The runtime's Param of an analysed parameter (what the package's pipeline.py holds)."""
    from nb2pipe.codegen.spec import param

    return param(p)


def param_args(pipe: Any, params: Any) -> list[str]:
    """The panel's ``{name: text}`` as ``NAME=VALUE`` arguments of ``-p``, each checked as
    ``nb2pipe run -p`` checks it; ParamError names the first bad one."""
    from nb2pipe.runtime.errors import UsageError
    from nb2pipe.runtime.options import parse_value

    if params in (None, {}):
        return []
    if not isinstance(params, Mapping):
        raise LabError("params must map parameter names to their values as text")
    if sum(len(str(v)) for v in params.values()) > MAX_TEXT:
        raise LabError(f"the parameters are limited to {MAX_TEXT // 1024} KiB of text")
    known = {p.name: p for p in pipe.parameters}
    args = []
    for name, text in params.items():
        p = known.get(name)
        if p is None:
            names = ", ".join(known) or "none"
            raise ParamError(f"unknown parameter {name!r} (parameters: {names})", name)
        if p.secret:
            raise ParamError(
                f"parameter {name!r} is secret: it is read from the environment variable "
                f"{p.env}, never sent from the panel",
                name,
            )
        if not isinstance(text, str):
            raise ParamError(f"parameter {name!r}: send the value as text, as after -p", name)
        try:
            parse_value(runtime_param(p), text)
        except UsageError as exc:
            raise ParamError(str(exc), name) from None
        args.append(f"{name}={text}")
    return args


def write_params(scratch: Path, run_id: str, args: list[str]) -> Path:
    path = scratch / f"{run_id}.params.json"
    path.write_text(json.dumps(args), encoding="utf-8")
    return path


# -- cancel --------------------------------------------------------------------------------

_cancelling: set[str] = set()
_lock = threading.Lock()
INTERRUPTED = {
    "kind": "Interrupted",
    "message": "the run was cancelled from JupyterLab",
    "cell": None,
    "line": None,
    "hint": None,
    "text": "the run was cancelled from JupyterLab",
}


def _signal(job: Job, sig: int) -> None:
    try:  # the worker leads its own session: its group is its pid
        os.killpg(job.proc.pid, sig)
    except ProcessLookupError:
        pass


def cancel(job: Job, run_dir: Path, grace: float | None = None) -> str:
    """Stop the run's worker: ``finished`` when it had already ended, ``cancelling`` when
    another cancel is at work on it, else ``interrupted`` once it has stopped."""
    grace = GRACE if grace is None else grace
    with _lock:
        if job.proc.poll() is not None:
            return "finished"
        if job.id in _cancelling:
            return "cancelling"
        _cancelling.add(job.id)
    try:
        _signal(job, signal.SIGINT)
        try:
            job.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal(job, signal.SIGKILL)
            job.proc.wait(timeout=30)
        close_record(run_dir, grace)
        if job.result() is None:  # stopped before it could answer: answer for it
            answer = {
                "ok": False,
                "phase": "run" if (run_dir / "run.json").is_file() else "cancelled",
                "status": "interrupted",
                "exit_code": 130,
                "error": INTERRUPTED,
            }
            job.result_file.write_text(json.dumps(answer), encoding="utf-8")
        return "interrupted"
    finally:
        with _lock:
            _cancelling.discard(job.id)


def close_record(run_dir: Path, grace: float) -> bool:
    """A run.json still ``running`` after its worker is gone (killed): mark it interrupted,
    as the runtime marks a run stopped by Ctrl-C. True when it had to."""
    from nb2pipe.runtime.fsutil import atomic_write_json, read_json
    from nb2pipe.runtime.records import iso, parse_iso

    record = read_json(run_dir / "run.json")
    if not isinstance(record, dict) or record.get("status") != "running":
        return False
    now = time.time()
    steps = record.get("steps") if isinstance(record.get("steps"), dict) else {}
    for name, step in steps.items():
        if not isinstance(step, dict):
            continue
        if step.get("status") == "running":
            message = f"step {name!r} was interrupted"
            step.update(status="failed", end=iso(now),
                        error={"kind": "interrupted", "message": message})  # fmt: skip
        elif step.get("status") == "pending":
            step.update(status="skipped", reason="interrupted")
    try:
        duration = round(now - parse_iso(str(record.get("start"))), 6)
    except (TypeError, ValueError):
        duration = None
    record.update(
        status="interrupted",
        end=iso(now),
        duration=duration,
        error=f"cancelled from JupyterLab: the run did not stop within {grace:g} s and was killed",
    )
    atomic_write_json(run_dir / "run.json", record)
    return True
