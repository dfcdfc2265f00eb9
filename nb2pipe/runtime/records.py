"""Run records: ``<runs-dir>/<run_id>/run.json``, rewritten atomically as steps finish.

Schema (``"schema": 1``)::

    run_id, pipeline, package, status (running|ok|failed|interrupted), start, end,
    duration, pid, host, command (argv as typed, the program first: rerunnable from cwd),
    cwd (where it was typed), workdir, store, options{...},
    parameters{name: value} (secrets left out), secret_parameters[names], derived{...},
    notebook, notebook_sha256, notebook_stale (the notebook changed since convert),
    generated_by, spec_version,
    versions{python, platform, nb2pipe, distributions{name: version}},
    steps{name: {status (pending|running|ok|failed|cached|skipped), submitted (handed to
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
    """The run.json of one run. ``save()`` writes at most every ``interval`` seconds unless
    forced; the final write is always forced."""

    def __init__(self, run_dir: Path, data: dict[str, Any], interval: float = 0.2) -> None:
        self.run_dir = run_dir
        self.path = run_dir / "run.json"
        self.data = {"schema": SCHEMA, **data, "pid": os.getpid(), "host": socket.gethostname()}
        self.data.setdefault("steps", {})
        self.interval = interval
        self._last = 0.0
        self.dirty = False

    def step(self, name: str) -> dict[str, Any]:
        steps: dict[str, dict[str, Any]] = self.data["steps"]
        return steps.setdefault(name, {})

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            self.dirty = True
            return
        atomic_write_json(self.path, self.data)
        self._last = now
        self.dirty = False

    def flush(self) -> None:
        """Write pending changes, at most every ``interval`` seconds."""
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
