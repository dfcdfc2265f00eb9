"""``run()`` and ``main()``: options and parameters in, a run record and a result out.

A run is prepared by :mod:`nb2pipe.runtime.plan` (options checked, parameters typed);
the scheduling loop lives in :mod:`nb2pipe.runtime.scheduler`; the executors in
:mod:`nb2pipe.runtime.executors`; one step's execution in :mod:`nb2pipe.runtime.execute`;
the work after the steps (registration, ...) in run hooks (:mod:`nb2pipe.runtime.hooks`).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nb2pipe.runtime import freshness, signals, supervise
from nb2pipe.runtime.cache import KeyContext
from nb2pipe.runtime.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from nb2pipe.runtime.fsutil import atomic_write_json
from nb2pipe.runtime.hashing import FileHasher
from nb2pipe.runtime.hooks import FinishedRun, call, call_after, installed
from nb2pipe.runtime.metrics import directions, metrics_document
from nb2pipe.runtime.plan import RunConfig, RunPlan, package_dir, prepare
from nb2pipe.runtime.progress import make_reporter
from nb2pipe.runtime.project import runs_location
from nb2pipe.runtime.providers import resolve_providers
from nb2pipe.runtime.records import RunRecord, iso, jsonable, new_run_id
from nb2pipe.runtime.scheduler import Scheduler, redact
from nb2pipe.runtime.spec import Pipeline
from nb2pipe.runtime.store import (
    ArtifactRef,
    Store,
    is_url,
    open_store,
)

__all__ = ["RunConfig", "RunResult", "main", "package_dir", "run"]

FILE_CACHE = "files.json"  # data files' digests, in the runs folder when not in the store
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class RunResult:
    run_id: str
    status: str  # ok | failed | interrupted
    exit_code: int  # 0 | 1 | 130
    run_dir: Path
    store_dir: Path | str  # a folder, or the URL of an fsspec store
    steps: dict[str, dict[str, Any]]  # the step records of run.json
    outputs: dict[str, dict[str, ArtifactRef]]  # step -> output -> artifact
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # secrets left out
    error: str | None = None
    models: dict[str, Any] = field(default_factory=dict)  # name -> {registered, version, ...}

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def load(self, step: str, name: str) -> Any:
        """An output of a step of this run (ran or cached), read back from the store."""
        return open_store(self.store_dir).load(self.outputs[step][name])


def run(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    config: RunConfig | None = None,
    **options: Any,
) -> RunResult:
    """Run ``pipeline``; raises :class:`UsageError` for bad options or parameters (before
    anything runs). ``params`` are Python values (checked against the parameter types);
    ``config`` the options (:class:`~nb2pipe.runtime.plan.RunConfig`), and keywords
    override its fields (``run(PIPELINE, jobs=2, quiet=True)``)."""
    config = replace(config or RunConfig(), **options)
    if params is not None:
        config = replace(config, params=params)
    started = time.time()
    stale = _stale(pipeline, config)
    plan = prepare(pipeline, config)
    runs_path, store_path, run_id = _locate(plan, started)
    store = open_store(store_path)
    files = store.file_cache() or runs_path / FILE_CACHE
    ctx = KeyContext(plan.package_dir, plan.workdir, FileHasher(files))
    providers = resolve_providers(pipeline, plan.selected, store, ctx, plan.values, plan.secret)
    hooks = installed() if config.hooks is None else list(config.hooks)
    call(hooks, "before_run", plan)
    run_dir = _open(runs_path, store, run_id)
    record = RunRecord(run_dir, _new_record(plan, run_id, started, store_path, stale))
    supervise.announce(run_dir)
    reporter = make_reporter(config.progress, quiet=config.quiet, verbose=config.verbose)
    scheduler = Scheduler(plan=plan, store=store, ctx=ctx, record=record, reporter=reporter)
    status = _run_steps(scheduler, providers, run_id, started)
    ended = time.time()
    record.data.update(
        status=status,
        end=iso(ended),
        duration=round(ended - started, 6),
        versions=_versions(ctx),
        metrics=jsonable(scheduler.metrics),
        error=scheduler.errors[0] if scheduler.errors else None,
    )
    finished = FinishedRun(
        plan, record, reporter, store, scheduler.state, scheduler.refs, scheduler.keys
    )
    _after(finished, hooks)
    counts: dict[str, int] = {}
    for name in plan.selected | set(providers):
        counts[scheduler.state[name]] = counts.get(scheduler.state[name], 0) + 1
    reporter.finish(_summary(finished, counts, ended - started))
    return RunResult(
        run_id=run_id,
        status=finished.status,
        exit_code={"ok": EXIT_OK, "failed": EXIT_FAILED}.get(finished.status, signals.exit_code()),
        run_dir=run_dir,
        store_dir=store_path,
        steps=record.data["steps"],
        outputs=dict(scheduler.refs),
        metrics=dict(scheduler.metrics),
        parameters=plan.public,
        error=record.data["error"],
        models=dict(record.data.get("models") or {}),
    )


def _stale(pipeline: Pipeline, config: RunConfig) -> str | None:
    """The warning when the package is older than its notebook (printed now); a UsageError
    instead under ``strict`` (None: the project's ``strict`` setting, or ``CI=true``)."""
    pkg_dir, _ = package_dir(pipeline)
    stale = freshness.check(pipeline, pkg_dir, strict=freshness.strict(config.strict, pkg_dir))
    if stale:
        print(f"[nb2pipe] warning: {stale}", file=sys.stderr, flush=True)
    return stale


def _locate(plan: RunPlan, started: float) -> tuple[Path, Path | str, str]:
    """The runs folder (also ``plan.runs_dir``), the store (a folder or a URL) and the run
    id, checked (nothing written)."""
    config = plan.config
    runs_path = plan.runs_dir = runs_location(config.runs_dir, start=plan.package_dir).path
    store_path: Path | str = runs_path / "store"
    if config.store is not None:
        given = os.fspath(config.store)
        store_path = given if is_url(given) else Path(given).resolve()
    run_id = config.run_id
    if run_id is not None and not _RUN_ID.fullmatch(run_id):
        raise UsageError(f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-'")
    registry = config.registry or os.environ.get("NB2PIPE_REGISTRY") or runs_path / "registry"
    reg = Path(registry).resolve()
    taken = {"store", "registry", "packages", FILE_CACHE} | {
        p.name for p in (store_path, reg) if isinstance(p, Path) and p.parent == runs_path
    }
    if run_id is not None and run_id.rstrip(". ").casefold() in {t.casefold() for t in taken}:
        raise UsageError(f"--run-id {run_id!r} names a folder the runs dir keeps for itself "
                         f"({', '.join(sorted(taken))}, in any case): choose another")  # fmt: skip
    for folder, what in ((runs_path, "--runs-dir"), (store_path, "--store")):
        if isinstance(folder, Path) and folder.exists() and not folder.is_dir():
            raise UsageError(f"{what} {folder} is a file, not a folder")
    return runs_path, store_path, run_id or new_run_id(started)


def _open(runs_path: Path, store: Store, run_id: str) -> Path:
    """Create the store and the run's folder."""
    try:
        store.open_for_run(runs_path)
    except OSError as exc:
        why = exc.strerror or exc
        raise UsageError(f"cannot write the store {store.location}: {why}") from None
    run_dir = runs_path / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UsageError(f"run {run_id!r} already exists in {runs_path}") from None
    except OSError as exc:
        raise UsageError(f"cannot write runs to {runs_path}: {exc.strerror or exc}") from None
    return run_dir


def _new_record(
    plan: RunPlan, run_id: str, started: float, store: Path | str, stale: str | None
) -> dict[str, Any]:
    """run.json as the run starts."""
    config, pipeline, hidden = plan.config, plan.pipeline, plan.hidden
    return {
        "run_id": run_id,
        "pipeline": pipeline.name,
        "package": pipeline.package,
        "status": "running",
        "start": iso(started),
        "end": None,
        "duration": None,
        "command": list(config.command) if config.command is not None else None,
        "cwd": os.getcwd(),
        "workdir": str(plan.workdir),
        "store": str(store),
        "options": {
            "jobs": config.jobs,
            "force": config.force,
            "only": list(config.only),
            "from": config.from_step,
            "until": config.until,
            "allow_mutation": config.allow_mutation,
            "guard": config.guard,
        },
        "parameters": plan.public,
        "secret_parameters": sorted(plan.secret),
        "derived": {
            k: jsonable(redact(repr(v), hidden))
            if hidden and any(r in repr(v) for r in hidden)
            else jsonable(v)
            for k, v in plan.derived.items()
        },
        "notebook": pipeline.notebook,
        "notebook_sha256": pipeline.notebook_sha256,
        "notebook_stale": bool(stale),
        "generated_by": pipeline.generated_by,
        "spec_version": pipeline.spec_version,
        "versions": {},
        "steps": {},
        "metrics": {},
        "error": None,
    }


def _run_steps(scheduler: Scheduler, providers: dict[str, Any], run_id: str, started: float) -> str:
    """The scheduling loop, with matplotlib drawing off screen; the run's status."""
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        return scheduler.run(providers)
    except BaseException as exc:  # e.g. the disk is full: stop the display, then report
        scheduler.reporter.finish(f"run {run_id} stopped: {type(exc).__name__}: {exc}")
        _stopped(scheduler, exc, started)
        raise
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend
        scheduler.ctx.hasher.save()


def _stopped(scheduler: Scheduler, exc: BaseException, started: float) -> None:
    """run.json of a run stopped outside any step (the workers' environment check refused
    them, the disk is full): failed (interrupted by Ctrl-C), with the reason, its steps
    not run skipped, never left ``running``."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    for name, state in scheduler.state.items():
        if state in ("pending", "running"):
            scheduler.record.step(name).update(status="skipped", reason=f"run stopped: {message}")
    ended = time.time()
    scheduler.record.data.update(
        status="failed" if isinstance(exc, Exception) else "interrupted",
        end=iso(ended),
        duration=round(ended - started, 6),
        error=message,
    )
    try:
        scheduler.record.save(force=True)
    except OSError:
        pass  # the disk that stopped the run: the error is still reported


def _after(run: FinishedRun, hooks: list[Any]) -> None:
    """Metrics and gates into the record, the hooks, then run.json and metrics.json (again
    if a hook failed the run after they were written)."""
    data = run.data
    dirs = directions(run.plan.pipeline, data.get("metrics") or {})
    data["metric_directions"] = {m: dirs[m] for m in data.get("metrics") or {}}
    data["gates"] = {
        s.name: run.states.get(s.name, "skipped")
        for s in run.plan.pipeline.steps
        if s.kind == "gate"
    }
    call_after(hooks, "after_run", run)
    _write(run, dirs)
    status = run.status
    call_after(hooks, "after_record", run)
    if run.status != status:
        _write(run, dirs)


def _write(run: FinishedRun, dirs: dict[str, str]) -> None:
    atomic_write_json(run.record.run_dir / "metrics.json", metrics_document(run.data, dirs))
    run.record.save(force=True)


def _summary(run: FinishedRun, counts: dict[str, int], seconds: float) -> str:
    summary = ", ".join(
        f"{counts[k]} {k}"
        for k in ("ok", "cached", "failed", "timed_out", "out_of_memory", "skipped")
        if counts.get(k)
    )
    run_dir = run.record.run_dir
    try:
        shown_dir = os.path.relpath(run_dir)
    except ValueError:
        shown_dir = str(run_dir)
    if shown_dir.startswith(".."):
        shown_dir = str(run_dir)
    run_id = run.data["run_id"]
    return f"run {run_id} {run.status} in {seconds:.2f}s: {summary} ({shown_dir})"


def _versions(ctx: KeyContext) -> dict[str, Any]:
    import platform

    from nb2pipe.runtime import __version__

    dists = ctx.versions
    for module in ("numpy", "pandas", "pyarrow", "joblib"):
        mod = sys.modules.get(module)
        if mod is not None and module not in dists:
            dists[module] = str(getattr(mod, "__version__", "?"))
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nb2pipe": __version__,
        "distributions": dict(sorted(dists.items())),
    }


def main(
    pipeline: Pipeline,
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    command: Sequence[str] | None = None,
    supervised: bool | None = None,
) -> int:
    """``python -m <package> [options]``: 0 ok, 1 a step or gate failed (or the run
    crashed), 2 bad usage, 128 + N stopped by signal N (130: Ctrl-C). ``command``: the
    command line to record (default: this process's, as typed, when ``argv`` is None).
    ``supervised`` (default: when ``argv`` is None, as from ``python -m``): run it in a
    supervised child process (:mod:`nb2pipe.runtime.supervise`)."""
    from nb2pipe.runtime.options import build_parser, config_from_args
    from nb2pipe.runtime.records import typed_command

    if command is None:
        command = typed_command() if argv is None else ["python", "-m", pipeline.package, *argv]
    if (argv is None if supervised is None else supervised) and os.name == "posix":
        if not supervise.supervised():
            _, root = package_dir(pipeline)
            args = list(sys.argv[1:] if argv is None else argv)
            return supervise.supervise(
                root, pipeline.package, args, pipeline, prog=prog, command=list(command)
            )
    parser = build_parser(prog=prog or f"python -m {pipeline.package}", pipeline=pipeline)
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        with signals.handling():
            result = run(pipeline, config=config_from_args(ns), command=list(command))
    except UsageError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("[nb2pipe] interrupted", file=sys.stderr)
        return signals.exit_code()
    except OSError as exc:  # the runs dir or the store cannot be written (disk full, ...)
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILED
    return result.exit_code
