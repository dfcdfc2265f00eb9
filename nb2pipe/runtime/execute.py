"""Run one step, in this process or a worker: load inputs, call, check, save outputs.

Everything a worker needs travels in a :class:`StepTask`; everything the scheduler learns
comes back in a :class:`StepOutcome` (plain data, so it crosses process boundaries even
when the step's exception cannot be pickled). A step run in the scheduler's own process
also gets a :class:`Handoff`: its inputs in memory, and a writer that stores its large
outputs in the background while the next steps run.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.runtime import figures, formats, guard, limits, randomstate
from nb2pipe.runtime.capture import capture_output
from nb2pipe.runtime.errors import CorruptArtifact
from nb2pipe.runtime.fingerprint import stateless
from nb2pipe.runtime.fsutil import drop_bytecode
from nb2pipe.runtime.hashing import sha256_bytes
from nb2pipe.runtime.metrics import metric_value
from nb2pipe.runtime.spec import Step
from nb2pipe.runtime.store import DATA_FORMATS, ArtifactRef, ArtifactStore, content_of, store_at
from nb2pipe.runtime.tracemap import locate, refine
from nb2pipe.runtime.writer import Writer

#: arrays and frames at least this large are stored in the background (in-process runs)
BACKGROUND_BYTES = 4 << 20


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
    previous: dict[str, ArtifactRef] = field(default_factory=dict)  # latest result's outputs
    timeout: float | None = None  # seconds the step's function may run (limits.py)
    max_memory: int | None = None  # bytes more it may allocate (a worker's RLIMIT_AS)


@dataclass
class Handoff:
    """A step run in the scheduler's process (not part of the task: it never crosses to a
    worker). ``values``: inputs in memory; ``known``: their fingerprints known to hold;
    ``ref_of``: an input's stored ref (waiting for its write); ``consumed``: outputs a later
    step of this run reads (their digest keys its cache, so it is taken at once)."""

    values: dict[str, Any] = field(default_factory=dict)
    known: dict[str, str] = field(default_factory=dict)
    writer: Writer | None = None
    consumed: frozenset[str] = frozenset()
    ref_of: Callable[[str], ArtifactRef] | None = None
    alone: bool = False  # no other step can run meanwhile (the fork executor runs it here)


@dataclass
class StepError:
    kind: str  # exception | gate | mutation | artifact | outputs | metrics | interrupted | timed_out | out_of_memory
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
    notes: list[str] = field(default_factory=list)  # what the guard could not check
    timings: dict[str, float] = field(default_factory=dict)  # inputs, guard, outputs (s)
    # in-process only (empty when the step ran in a worker):
    values: dict[str, Any] = field(default_factory=dict)  # outputs, handed to later steps
    pending: dict[str, Future[ArtifactRef]] = field(default_factory=dict)  # being written
    contents: dict[str, str] = field(default_factory=dict)  # digests of pending outputs
    fingerprints: dict[str, str] = field(default_factory=dict)  # unchanged inputs, after
    mutated: list[str] = field(default_factory=list)  # inputs changed in place (allowed)
    written: list[tuple[str, int]] = field(default_factory=list)  # by a worker: (digest, size)


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


@contextlib.contextmanager
def importable(folder: str) -> Iterator[None]:
    """The notebook's folder first on sys.path while a step is imported and runs, as the
    kernel's working folder is in Jupyter, so a helper module beside the notebook (`import
    helpers`) imports; taken off afterwards, so it shadows none of the runner's imports."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)


def import_step(package: str, name: str) -> Any:
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
            drop_bytecode(Path(module.__file__ or ""))  # a same-size edit in the same second
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
    kind = "gate" if gate else "exception"
    if isinstance(exc, limits.StepTimeout):
        kind, detail = "timed_out", f"over its time limit of {task.timeout:g} s"
    elif isinstance(exc, MemoryError) and task.max_memory:
        kind = "out_of_memory"
        detail = f"out of memory (--max-memory {limits.describe_size(task.max_memory)})"
    if kind in ("timed_out", "out_of_memory"):
        what, summary = f"step {step.name!r} stopped", detail
    elif gate:
        what = f"gate {step.name!r} failed"
        summary = detail or (loc.code if loc else "assertion failed")
    else:
        what = f"step {step.name!r} failed"
        summary = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    exc_type = type(exc).__name__
    where = ""
    if loc is not None:
        where = f" at {loc.describe()}"
        if loc.code and loc.code not in summary:
            where += f" ({loc.code})"
    return StepError(
        kind=kind,
        message=f"{what}{where}: {summary}",
        exc_type=exc_type,
        cell=loc.cell if loc else None,
        line=loc.line if loc else None,
        traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    )


def _load_inputs(task: StepTask, store: ArtifactStore, handoff: Handoff | None) -> dict[str, Any]:
    loaded: dict[str, Any] = {}
    given = handoff.values if handoff is not None else {}
    for var, ref in task.inputs.items():
        if var in given:
            loaded[var] = given[var]
            continue
        try:
            loaded[var] = store.load(ref)
        except CorruptArtifact as exc:
            src = task.input_steps.get(var, "?")
            raise _Failed(
                StepError(
                    "artifact",
                    f"step {task.step.name!r}: input {var!r} (from step {src!r}): {exc}",
                    exc_type="CorruptArtifact",
                )
            ) from None
    return loaded


def _call(task: StepTask, inputs: dict[str, Any], outcome: StepOutcome, log: Path) -> Any:
    step = task.step
    with capture_output(log, echo=task.echo):
        try:
            figures.begin(task.run_dir, step.name)  # plt.show() saves and closes, as in Jupyter
            with importable(task.workdir):
                function = getattr(import_step(task.package, step.name), step.function or step.name)
                streams = randomstate.enter(step, inputs)  # pops __random_state__, sets streams
                with limits.time_limit(task.timeout):
                    result = function(**inputs, **task.kwargs)
            randomstate.leave(streams, result, outcome.warnings)
        except (Exception, SystemExit, limits.StepTimeout) as exc:
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
    return result


def _mutation(task: StepTask, var: str) -> StepError:
    step = task.step
    loc = guard.likely_call(task.package_dir, step, var, task.notebook)
    where = ""
    if loc is not None:
        where = f", likely at {loc.describe()} ({loc.code})"
    message = (
        f"step {step.name!r} changed its input {var!r} (from step "
        f"{task.input_steps.get(var, '?')!r}) in place{where}, but {var!r} is not one of its "
        "outputs, so later steps would not see the change the notebook made"
    )
    return StepError(
        "mutation", message, cell=loc.cell if loc else None, line=loc.line if loc else None
    )


def _nbytes(value: Any) -> int:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    try:
        return int(value.memory_usage(index=True, deep=False).sum())
    except (AttributeError, TypeError, ValueError):
        return 0


def _store_output(
    task: StepTask, store: Any, name: str, value: Any, outcome: StepOutcome, handoff: Handoff | None
) -> None:
    """Store one output: in the background when a writer is at hand and it is a large
    array or frame (its digest taken now when a later step's cache key needs it), else at
    once. A value equal to the step's previous result is not written again."""
    fmt = formats.choose(value)
    previous = task.previous.get(name)
    background = (
        handoff is not None
        and handoff.writer is not None
        and fmt in DATA_FORMATS
        and _nbytes(value) >= BACKGROUND_BYTES
    )
    needed = not background or (handoff is not None and name in handoff.consumed)
    content = content_of(value, fmt) if needed else ""
    if content and previous and previous.content == content and store.exists(previous):
        outcome.outputs[name] = previous
    elif background and handoff is not None and handoff.writer is not None:
        outcome.pending[name] = handoff.writer.submit(value, fmt, content)
        outcome.contents[name] = content
    elif hasattr(store, "save_value"):
        outcome.outputs[name] = store.save_value(value, fmt, content)
    else:
        outcome.outputs[name] = store.save(value)


def _store_outputs(
    task: StepTask,
    store: Any,
    result: dict[str, Any],
    outcome: StepOutcome,
    handoff: Handoff | None,
) -> None:
    step = task.step
    for name in step.outputs:
        value = result[name]
        try:
            _store_output(task, store, name, value, outcome, handoff)
        except Exception as exc:  # noqa: BLE001 - e.g. an object that cannot be pickled
            hint = ""
            if stateless(value):
                hint = (
                    f" ({type(value).__name__} objects, like generators, open files and "
                    "connections, cannot pass between steps: create it in the step that uses "
                    "it)"
                )
            raise _Failed(
                StepError(
                    "outputs",
                    f"step {step.name!r}: output {name!r} cannot be stored: {type(exc).__name__}: "
                    + " ".join(str(exc).split())
                    + hint,
                    exc_type=type(exc).__name__,
                )
            ) from None
        if handoff is not None:
            outcome.values[name] = value


def _run(
    task: StepTask,
    store: ArtifactStore,
    outcome: StepOutcome,
    log: Path,
    handoff: Handoff | None = None,
) -> None:
    step = task.step
    started = time.perf_counter()
    loaded = _load_inputs(task, store, handoff)
    outcome.timings["inputs"] = time.perf_counter() - started
    # the carried random state is taken out by randomstate.enter, never changed in place
    carried = (randomstate.RANDOM_STATE, *step.outputs)
    guarded = [v for v in loaded if v not in carried] if task.guard else []
    check = guard.before(loaded, guarded, handoff.known if handoff is not None else {})
    result = _call(task, loaded, outcome, log)
    ref_of = handoff.ref_of if handoff is not None and handoff.ref_of else task.inputs.__getitem__
    changed = guard.after(check, loaded, ref_of, store.load)
    outcome.notes.extend(check.notes)
    outcome.timings["guard"] = check.seconds
    for var in changed:
        error = _mutation(task, var)
        if not task.allow_mutation:
            error.message += " (--allow-mutation: only warn)"
            raise _Failed(error)
        outcome.warnings.append(error.message)
        outcome.mutated.append(var)
    outcome.fingerprints = dict(check.after)
    del loaded
    started = time.perf_counter()
    _store_outputs(task, store, result, outcome, handoff)
    outcome.timings["outputs"] = time.perf_counter() - started
    try:
        outcome.metrics = {m: metric_value(m, result[m]) for m in step.metrics if m in result}
    except ValueError as exc:
        raise _Failed(
            StepError("metrics", f"step {step.name!r}: {exc}", exc_type="MetricError")
        ) from None


def execute(task: StepTask, store: ArtifactStore, handoff: Handoff | None = None) -> StepOutcome:
    """Run the step in this process (the sequential executor calls this directly, with a
    :class:`Handoff`)."""
    outcome = StepOutcome(task.step.name, "failed", time.time(), 0.0, pid=os.getpid())
    log = Path(task.run_dir) / "logs" / f"{task.step.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    previous = os.getcwd()
    try:
        os.chdir(task.workdir)
        _run(task, store, outcome, log, handoff)
        outcome.status = "ok"
    except _Failed as failed:
        outcome.error = failed.error
    except KeyboardInterrupt:
        outcome.error = StepError("interrupted", f"step {task.step.name!r} was interrupted")
    except Exception as exc:  # noqa: BLE001 - a bug of ours or of the store: still report it
        outcome.error = StepError(
            "exception",
            f"step {task.step.name!r} could not run: {type(exc).__name__}: {exc}",
            exc_type=type(exc).__name__,
            traceback=traceback.format_exc(),
        )
    finally:
        os.chdir(previous)
        outcome.end = time.time()
    if outcome.error is not None:
        outcome.outputs, outcome.values = {}, {}
        for future in outcome.pending.values():
            future.cancel()  # a failed step's outputs are not kept (one already written is)
        outcome.pending, outcome.contents = {}, {}
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"\n[nb2pipe] {outcome.error.message}\n")
    if task.redact:
        _redact_log(log, task.redact)
    return outcome


def _redact_log(log: Path, secrets: tuple[str, ...], chunk: int = 1 << 20) -> None:
    """Secret values out of a log, streaming (a step may print gigabytes): each chunk is
    redacted with the previous one's last characters, so a value split between two chunks
    is found too; the log is replaced only when it held one."""
    keep = max(map(len, secrets)) - 1
    tmp = log.with_name(log.name + ".redacting")
    found = False
    try:
        with (
            open(log, encoding="utf-8", errors="replace") as src,
            open(tmp, "w", encoding="utf-8") as dst,
        ):
            carry = ""
            while True:
                piece = src.read(chunk)
                text = carry + piece
                for s in secrets:
                    if s in text:
                        found = True
                        text = text.replace(s, "***")
                if not piece:
                    dst.write(text)
                    break
                cut = max(len(text) - keep, 0)
                dst.write(text[:cut])
                carry = text[cut:]
        if found:
            os.replace(tmp, log)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# --- worker processes -------------------------------------------------------------------


def init_worker() -> None:
    """Workers ignore Ctrl-C while idle; the parent stops them (see ``run_in_worker``),
    and they die with it."""
    from nb2pipe.runtime.supervise import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def run_in_worker(task: StepTask) -> StepOutcome:
    if task.package_root not in sys.path:
        sys.path.insert(0, task.package_root)
    store = store_at(task.store_root)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    first = len(store.written)
    try:
        with limits.memory_limit(task.max_memory):
            outcome = execute(task, store)
        outcome.written = store.written[first:]
        return outcome
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
