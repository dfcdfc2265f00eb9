"""Run records: ``<runs-dir>/<run_id>/run.json``, rewritten atomically as steps finish.

Schema (``"schema": 1``)::

    run_id, pipeline, package, status (running|ok|failed|interrupted|crashed), signal (the
    one that interrupted it), start, end, duration, pid, pid_started, host, command (argv as
    typed, the program first: rerunnable from cwd), cwd (where it was typed), workdir, store,
    options{...},
    parameters{name: value} (secrets left out), secret_parameters[names], derived{...},
    notebook, notebook_sha256, notebook_stale (the notebook changed since convert),
    generated_by, spec_version,
    versions{python, platform, nb2pipe, distributions{name: version}},
    steps{name: {status (pending|running|ok|failed|timed_out|out_of_memory|cached|skipped), submitted (handed to
                 the executor), start, end, duration, pid (process that ran it), cache_key, reason, cached_from, stale,
                 inputs{var: {step, hash, format, size, content}}, outputs{var: {hash,
                 format, size, content}}, metrics{}, log, figures[], warnings[], notes[],
                 timings{inputs, guard, outputs}, error{kind, message, type, cell, line}}},
    metrics{name: value}, error (first failure, one line) or null,
    storage{artifacts, bytes, written, waited} (see the runtime README),
    and once the steps are done (nb2pipe.mlops.publish, a run hook):
    metric_directions{name: higher|lower}, gates{gate step: status},
    models{name: {registered, version, new, alias, backend} or {registered: false, reason}},
    baseline{limits[], failures[]} (with --max-regression); metrics.json next to it

Times are ISO 8601 in UTC with microseconds.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nb2pipe.runtime.fsutil import atomic_write_json

SCHEMA = 1
EVENTS = "events.jsonl"  # step changes, appended as they happen


def replay(run_dir: Path, data: dict[str, Any]) -> None:
    """Apply the step changes of ``events.jsonl`` to a record run.json had not caught
    up with (its process died between two writes)."""
    try:
        lines = (run_dir / EVENTS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    steps = data.setdefault("steps", {})
    for line in lines:
        try:
            change = json.loads(line)
        except ValueError:
            continue  # the last line, cut short
        if isinstance(change, dict) and isinstance(change.get("step"), str):
            steps.setdefault(change.pop("step"), {}).update(change)


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def new_run_id(now: float | None = None) -> str:
    """UTC timestamp (sortable) plus a short random suffix: ``20250101-120000-123-1a2b``."""
    now = time.time() if now is None else now
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return f"{stamp}-{secrets.token_hex(2)}"


def jsonable(value: Any) -> Any:
    """Parameters and metrics as JSON (tuples become lists; other objects their repr)."""
    try:
        return json.loads(json.dumps(value, default=repr, allow_nan=True))
    except (TypeError, ValueError):
        return repr(value)


class RunRecord:
    """The run.json of one run. ``save()`` writes at most every ``gap`` seconds unless
    forced; the final write is always forced. ``gap`` is ``interval``, or 20 times what the
    last write took when that is longer: the record grows with the steps, and rewriting it
    whole must not make run time grow with their square (writes stay under ~5% of the run;
    each step's changes are in ``events.jsonl`` meanwhile)."""

    def __init__(self, run_dir: Path, data: dict[str, Any], interval: float = 0.2) -> None:
        self.run_dir = run_dir
        self.path = run_dir / "run.json"
        from nb2pipe.runtime.supervise import process_started

        pid = os.getpid()
        self.data = {"schema": SCHEMA, **data, "pid": pid, "host": socket.gethostname()}
        self.data["pid_started"] = process_started(pid)
        self.data.setdefault("steps", {})
        self.interval = interval
        self.gap = interval
        self._last = 0.0
        self.dirty = False
        self._events: Any = None

    def event(self, name: str, **fields: Any) -> None:
        """Append a step's change to ``events.jsonl`` at once (one short line): run.json
        is rewritten at most every ``interval`` seconds, and a run whose process dies
        in between is completed from these lines (:mod:`.supervise`)."""
        if self._events is None:
            self._events = open(self.run_dir / EVENTS, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._events.write(json.dumps({"step": name, **fields}, default=repr) + "\n")

    def step(self, name: str) -> dict[str, Any]:
        steps: dict[str, dict[str, Any]] = self.data["steps"]
        return steps.setdefault(name, {})

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.gap:
            self.dirty = True
            return
        atomic_write_json(self.path, self.data)
        self._last = time.monotonic()
        self.gap = max(self.interval, 20 * (self._last - now))
        self.dirty = False

    def flush(self) -> None:
        """Write pending changes, at most every ``gap`` seconds."""
        if self.dirty:
            self.save()


def typed_command() -> list[str]:
    """This process's command line as the user typed it: ``python -m pipelines.wine -p
    seed=1`` (``sys.orig_argv``: the interpreter as typed, its options, ``-m``), or for a
    console script ``nb2pipe run ...`` (its name when that is what the PATH finds, else
    its path)."""
    orig = list(getattr(sys, "orig_argv", None) or sys.argv)
    script = sys.argv[0] if sys.argv else ""
    if not script or script == "-c" or os.path.basename(script) == "__main__.py":
        return orig
    name = os.path.basename(script)
    found = shutil.which(name)
    try:
        same = found is not None and os.path.samefile(found, script)
    except OSError:
        same = False
    if same:
        return [name, *sys.argv[1:]]
    if os.sep in script and os.access(script, os.X_OK) and orig[1:2] == [script]:
        return [script, *sys.argv[1:]]  # an executable typed with its path
    return orig
