"""Run one step, in this process or a worker: load inputs, call, check, save outputs.

Everything a worker needs travels in a :class:`StepTask`; everything the scheduler learns
comes back in a :class:`StepOutcome` (plain data, so it crosses process boundaries even
when the step's exception cannot be pickled).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.runtime import figures, formats, randomstate
from nb2pipe.runtime.capture import capture_output
from nb2pipe.runtime.errors import CorruptArtifact
from nb2pipe.runtime.hashing import sha256_bytes
from nb2pipe.runtime.metrics import metric_value
from nb2pipe.runtime.spec import Step
from nb2pipe.runtime.store import ArtifactRef, ArtifactStore, LocalStore
from nb2pipe.runtime.tracemap import locate, refine


@dataclass(frozen=True)
class StepTask:
    pipeline: str
    package: str
    package_dir: str
    package_root: str  # the folder to put on sys.path to import the package
    step: Step
    kwargs: dict[str, Any]  # parameters and derived values the step reads
    inputs: dict[str, ArtifactRef]
    input_steps: dict[str, str]
    store_root: str
    workdir: str
    run_dir: str
    echo: bool = False
    guard: bool = True
    allow_mutation: bool = False
    redact: tuple[str, ...] = ()  # secret values never written to logs
    notebook: str = ""  # absolute path of the source notebook, to map lines back


@dataclass
class StepError:
    kind: str  # exception | gate | mutation | artifact | outputs | metrics | interrupted
    message: str  # one line, names step, cell and line
    exc_type: str = ""
    cell: int | None = None
    line: int | None = None
    traceback: str = ""


@dataclass
class StepOutcome:
    name: str
    status: str  # ok | failed
    start: float
    end: float
    outputs: dict[str, ArtifactRef] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: StepError | None = None
    pid: int = 0


class _Failed(Exception):
    def __init__(self, error: StepError) -> None:
        super().__init__(error.message)
        self.error = error


_SOURCES: dict[str, str] = {}  # module name -> sha256 of the source it was loaded from


def _source_hash(module: Any) -> str | None:
    try:
        with open(module.__file__, "rb") as f:
            return sha256_bytes(f.read())
    except (OSError, TypeError, AttributeError):
        return None


def _drop_bytecode(module: Any) -> None:
    import importlib.util

    try:
        os.unlink(importlib.util.cache_from_source(module.__file__))
    except (OSError, TypeError, ValueError, NotImplementedError):
        pass


def _import_fresh(package: str, name: str) -> Any:
    """Import the step's module, reloading it (and ``common``) if its file changed since it
    was loaded in this process: the cache key was computed from the file on disk, so the
    code that runs must be that file."""
    names = (f"{package}.common", f"{package}.steps.{name}")
    stale = False
    for modname in names:
        module = sys.modules.get(modname)
        if module is None:
            continue
        current = _source_hash(module)
        if stale or _SOURCES.get(modname) != current:
            _drop_bytecode(module)  # its timestamp check may miss a same-size edit
            module = importlib.reload(module)
            stale = True
        _SOURCES[modname] = current or ""
    module = importlib.import_module(names[1])
    _SOURCES.setdefault(names[1], _source_hash(module) or "")
    common = sys.modules.get(names[0])
    if common is not None:
        _SOURCES.setdefault(names[0], _source_hash(common) or "")
    return module


def _describe_exception(task: StepTask, exc: BaseException) -> StepError:
    step = task.step
    loc = locate(exc, Path(task.package_dir))
    if loc is not None:
        loc = refine(loc, task.notebook)
    gate = step.kind == "gate" and isinstance(exc, AssertionError)
    cell, line = getattr(exc, "cell", None), getattr(exc, "line", None)
    if isinstance(cell, int) and isinstance(line, int):  # a gate check knows its place
        kind = "gate" if gate else "exception"
        what = f"gate {step.name!r} failed" if gate else f"step {step.name!r} failed"
        return StepError(
            kind=kind,
            message=f"{what}: {' '.join(str(exc).split())}",
            exc_type=type(exc).__name__,
            cell=cell,
            line=line,
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )
    detail = " ".join(str(exc).split())
    if gate:
        what = f"gate {step.name!r} failed"
        summary = detail or (loc.code if loc else "assertion failed")
    else:
        what = f"step {step.name!r} failed"
        summary = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    where = ""
    if loc is not None:
        where = f" at {loc.describe()}"
        if loc.code and loc.code not in summary:
            where += f" ({loc.code})"
    return StepError(
        kind="gate" if gate else "exception",
        message=f"{what}{where}: {summary}",
        exc_type=type(exc).__name__,
        cell=loc.cell if loc else None,
        line=loc.line if loc else None,
        traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    )


def fingerprint(obj: Any) -> str:
    """A value-based hash of an object stored through joblib, taken before and after the
    step on the same object. (Pickles of two loads of one artifact may differ: padding
    bytes in structured arrays, shared vs. equal strings; so the artifact's own hash
    cannot tell whether such an object changed.)"""
    import joblib

    return str(joblib.hash(obj))


def _changed(store: ArtifactStore, obj: Any, ref: ArtifactRef, before: str | None) -> bool:
    """Did the step change this input in place? joblib values: compare fingerprints taken
    before and after. JSON, .npy and Parquet encode deterministically: re-encode and compare
    with the artifact's hash; if that differs, with a fresh copy encoded the same way."""
    if before is not None:
        return fingerprint(obj) != before
    data = formats.encode_as(obj, ref.format)
    if data is not None and sha256_bytes(data) == ref.hash:
        return False
    if data is None:
        return True
    again = formats.encode_as(store.load(ref), ref.format)
    return again is None or sha256_bytes(again) != sha256_bytes(data)


def _run(task: StepTask, store: ArtifactStore, outcome: StepOutcome, log: Path) -> None:
    step = task.step
    loaded: dict[str, Any] = {}
    for var, ref in task.inputs.items():
        try:
            loaded[var] = store.load(ref)
        except CorruptArtifact as exc:
            src = task.input_steps.get(var, "?")
            raise _Failed(
                StepError(
                    "artifact",
                    f"step {step.name!r}: input {var!r} (from step {src!r}): {exc}",
                    exc_type="CorruptArtifact",
                )
            ) from None
    before: dict[str, str] = {}
    if task.guard:
        for var, obj in loaded.items():
            if var not in step.outputs and task.inputs[var].format == "joblib":
                before[var] = fingerprint(obj)
    result: Any = None
    with capture_output(log, echo=task.echo):
        try:
            figures.begin(task.run_dir, step.name)  # plt.show() saves and closes, as in Jupyter
            function = getattr(_import_fresh(task.package, step.name), step.function or step.name)
            streams = randomstate.enter(step, loaded)  # pops __random_state__, sets streams
            result = function(**loaded, **task.kwargs)
            randomstate.leave(streams, result, outcome.warnings)
        except (Exception, SystemExit) as exc:
            traceback.print_exc()
            raise _Failed(_describe_exception(task, exc)) from None
        finally:
            outcome.figures = figures.finish()
    if result is None and not step.outputs:
        result = {}
    if not isinstance(result, dict):
        raise _Failed(
            StepError(
                "outputs",
                f"step {step.name!r} returned {type(result).__name__}, not a dict of outputs",
            )
        )
    missing = [o for o in step.outputs if o not in result]
    if missing:
        raise _Failed(
            StepError(
                "outputs", f"step {step.name!r} did not return its output(s) {', '.join(missing)}"
            )
        )
    if task.guard:
        for var, obj in loaded.items():
            if var in step.outputs or not _changed(store, obj, task.inputs[var], before.get(var)):
                continue
            message = (
                f"step {step.name!r} changed its input {var!r} (from step "
                f"{task.input_steps.get(var, '?')!r}) in place, but {var!r} is not one of its "
                "outputs, so later steps would not see the change the notebook made"
            )
            if not task.allow_mutation:
                raise _Failed(StepError("mutation", message + " (--allow-mutation: only warn)"))
            outcome.warnings.append(message)
    del loaded
    for name in step.outputs:
        try:
            outcome.outputs[name] = store.save(result[name])
        except Exception as exc:  # noqa: BLE001 - e.g. an object that cannot be pickled
            raise _Failed(
                StepError(
                    "outputs",
                    f"step {step.name!r}: output {name!r} cannot be stored: {type(exc).__name__}: "
                    + " ".join(str(exc).split()),
                    exc_type=type(exc).__name__,
                )
            ) from None
    try:
        outcome.metrics = {m: metric_value(m, result[m]) for m in step.metrics if m in result}
    except ValueError as exc:
        raise _Failed(
            StepError("metrics", f"step {step.name!r}: {exc}", exc_type="MetricError")
        ) from None


def execute(task: StepTask, store: ArtifactStore) -> StepOutcome:
    """Run the step in this process (the sequential executor calls this directly)."""
    outcome = StepOutcome(task.step.name, "failed", time.time(), 0.0, pid=os.getpid())
    log = Path(task.run_dir) / "logs" / f"{task.step.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    previous = os.getcwd()
    try:
        os.chdir(task.workdir)
        _run(task, store, outcome, log)
        outcome.status = "ok"
    except _Failed as failed:
        outcome.error = failed.error
        outcome.outputs = {}
    except KeyboardInterrupt:
        outcome.error = StepError("interrupted", f"step {task.step.name!r} was interrupted")
        outcome.outputs = {}
    except Exception as exc:  # noqa: BLE001 - a bug of ours or of the store: still report it
        outcome.error = StepError(
            "exception",
            f"step {task.step.name!r} could not run: {type(exc).__name__}: {exc}",
            exc_type=type(exc).__name__,
            traceback=traceback.format_exc(),
        )
        outcome.outputs = {}
    finally:
        os.chdir(previous)
        outcome.end = time.time()
    if outcome.error is not None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"\n[nb2pipe] {outcome.error.message}\n")
    if task.redact:
        _redact_log(log, task.redact)
    return outcome


def _redact_log(log: Path, secrets: tuple[str, ...]) -> None:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    if any(s in text for s in secrets):
        for s in secrets:
            text = text.replace(s, "***")
        log.write_text(text, encoding="utf-8")


# --- worker processes -------------------------------------------------------------------

_STORES: dict[str, LocalStore] = {}


def init_worker() -> None:
    """Workers ignore Ctrl-C while idle; the parent stops them (see ``run_in_worker``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_in_worker(task: StepTask) -> StepOutcome:
    if task.package_root not in sys.path:
        sys.path.insert(0, task.package_root)
    store = _STORES.get(task.store_root)
    if store is None:
        store = _STORES[task.store_root] = LocalStore(task.store_root)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return execute(task, store)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
