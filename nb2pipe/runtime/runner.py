"""The runner: one scheduling loop over the DAG; sequential and parallel runs differ only
by the executor (an inline one, or a pool of spawned processes), as in Kedro.

A step becomes ready when its upstream steps are done. Its cache key is computed then,
from hashes only (code, parameters, input artifact hashes from the store index, files,
versions), so a fully cached run loads no artifact and imports none of the steps'
libraries. A step that misses the cache is submitted to the executor; the worker loads its
inputs from the store, runs it, saves its outputs and returns their hashes.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nb2pipe.runtime import graph
from nb2pipe.runtime.cache import KeyContext, cache_key, explain, key_components
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.execute import StepOutcome, StepTask, execute, init_worker, run_in_worker
from nb2pipe.runtime.hashing import FileHasher
from nb2pipe.runtime.options import resolve_params
from nb2pipe.runtime.progress import Reporter, make_reporter
from nb2pipe.runtime.records import RunRecord, iso, jsonable, new_run_id
from nb2pipe.runtime.spec import Pipeline, Step
from nb2pipe.runtime.store import ArtifactRef, LocalStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class RunResult:
    run_id: str
    status: str  # ok | failed | interrupted
    exit_code: int  # 0 | 1 | 130
    run_dir: Path
    store_dir: Path
    steps: dict[str, dict[str, Any]]  # the step records of run.json
    outputs: dict[str, dict[str, ArtifactRef]]  # step -> output -> artifact
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # secrets left out
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def load(self, step: str, name: str) -> Any:
        """An output of a step of this run (ran or cached), read back from the store."""
        return LocalStore(self.store_dir).load(self.outputs[step][name])


class InlineExecutor(Executor):
    """Runs each submitted call at once, in this process: the sequential executor."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        return future


def _process_pool(jobs: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: no copied locks or threads; each worker imports only what it runs.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=init_worker)


def _stop_pool(executor: Executor) -> None:
    for process in list(getattr(executor, "_processes", None or {}).values()):
        try:
            process.terminate()
        except Exception:  # noqa: BLE001, S110 - already gone
            pass
    executor.shutdown(wait=False, cancel_futures=True)


def package_dir(pipeline: Pipeline) -> tuple[Path, Path]:
    """The package's folder and the folder to put on sys.path to import it."""
    module = sys.modules.get(pipeline.package) or importlib.import_module(pipeline.package)
    folder = Path(module.__file__ or "").resolve().parent
    root = folder
    for _ in pipeline.package.split("."):
        root = root.parent
    return folder, root


def _redact(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


class _Flusher:
    """Writes run.json while a step runs inline in the main thread and takes longer than
    the record's interval, so the record shows it running. The record is only touched
    under the lock, and the main thread leaves it alone until the step returns."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.cond = threading.Condition()
        self.since: float | None = None
        self.stopped = False
        self.thread: threading.Thread | None = None

    def step_started(self) -> None:
        with self.cond:
            self.since = time.monotonic()
            self.cond.notify()
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="nb2pipe-record", daemon=True)
            self.thread.start()

    def step_ended(self) -> None:
        with self.cond:
            self.since = None

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _loop(self) -> None:
        with self.cond:
            while not self.stopped:
                if self.since is None:
                    self.cond.wait()
                    continue
                remaining = self.since + self.record.interval - time.monotonic()
                if remaining > 0:
                    self.cond.wait(remaining)
                    continue
                try:
                    self.record.flush()
                except OSError:
                    pass  # the next write will tell
                self.since = time.monotonic()


@dataclass
class _Provided:
    refs: dict[str, ArtifactRef]
    run_id: str | None
    exact: bool


class _Scheduler:
    def __init__(self, *, pipeline: Pipeline, selected: set[str], values: dict[str, Any],
                 secret: frozenset[str], store: LocalStore, ctx: KeyContext, record: RunRecord,
                 reporter: Reporter, base_task: StepTask, jobs: int, force: bool,
                 verbose: bool, redact: tuple[str, ...]) -> None:  # fmt: skip
        self.p = pipeline
        self.by_name = {s.name: s for s in pipeline.steps}
        self.selected = selected
        self.values = values
        self.secret = secret
        self.store = store
        self.ctx = ctx
        self.record = record
        self.reporter = reporter
        self.base_task = base_task
        self.jobs = max(1, jobs)
        self.force = force
        self.verbose = verbose
        self.redact = redact
        self.state: dict[str, str] = {}
        self.refs: dict[str, dict[str, ArtifactRef]] = {}
        self.keys: dict[str, tuple[str, dict[str, Any]]] = {}
        self.metrics: dict[str, Any] = {}
        self.errors: list[str] = []
        self.executor: Executor | None = None
        self.flusher: _Flusher

    def step_of(self, name: str) -> Step:
        return self.by_name[name]

    # -- cache --------------------------------------------------------------------------

    def _inputs(self, step: Step) -> dict[str, ArtifactRef]:
        return {var: self.refs[prod][var] for var, prod in step.inputs.items()}

    def _key(self, step: Step, inputs: dict[str, ArtifactRef]) -> tuple[str, dict[str, Any]]:
        if step.name not in self.keys:
            comps = key_components(self.p.name, step, self.ctx, self.values, inputs, self.secret)
            self.keys[step.name] = (cache_key(comps), comps)
        return self.keys[step.name]

    def _valid(self, step: Step, entry: dict[str, Any] | None) -> dict[str, ArtifactRef] | None:
        if not entry or not isinstance(entry.get("outputs"), dict):
            return None
        try:
            refs = {k: ArtifactRef.from_json(v) for k, v in entry["outputs"].items()}
        except (KeyError, TypeError, ValueError):
            return None
        if any(o not in refs or not self.store.exists(refs[o]) for o in step.outputs):
            return None
        return refs

    def resolve_providers(self) -> dict[str, _Provided]:
        """Steps outside the selection whose outputs a selected step reads: the cache entry
        matching the current code and parameters, else the step's latest result."""
        memo: dict[str, _Provided | None] = {}

        def resolve(name: str) -> _Provided | None:
            if name in memo:
                return memo[name]
            memo[name] = None
            step = self.step_of(name)
            inputs: dict[str, ArtifactRef] | None = {}
            for var, prod in step.inputs.items():
                up = resolve(prod)
                if up is None or var not in up.refs or inputs is None:
                    inputs = None
                    break
                inputs[var] = up.refs[var]
            found: _Provided | None = None
            if inputs is not None:
                comps = key_components(
                    self.p.name, step, self.ctx, self.values, inputs, self.secret
                )
                entry = self.store.get_entry(self.p.name, name, cache_key(comps))
                refs = self._valid(step, entry)
                if refs is not None and entry is not None:
                    found = _Provided(refs, entry.get("run_id"), True)
            if found is None:
                latest = self.store.latest_entry(self.p.name, name)
                refs = self._valid(step, latest)
                if refs is not None and latest is not None:
                    found = _Provided(refs, latest.get("run_id"), False)
            memo[name] = found
            return found

        provided: dict[str, _Provided] = {}
        for step in self.p.steps:
            if step.name not in self.selected:
                continue
            for var, prod in step.inputs.items():
                if prod in self.selected or prod in provided:
                    continue
                found = resolve(prod)
                if found is None or var not in found.refs:
                    raise UsageError(
                        f"step {step.name!r} needs {var!r} from step {prod!r}, which is not part "
                        f"of this run and has no stored result: run it first (--until {prod}) "
                        "or widen --only/--from"
                    )
                provided[prod] = found
        return provided

    # -- records ------------------------------------------------------------------------

    def _set(self, name: str, status: str, elapsed: float | None = None, note: str = "",
             **fields: Any) -> None:  # fmt: skip
        self.state[name] = status
        rec = self.record.step(name)
        rec["status"] = status
        rec.update({k: v for k, v in fields.items() if v is not None})
        self.reporter.update(name, status, elapsed, note)

    def _skip_after_failure(self, name: str, bad: str) -> None:
        self._set(
            name,
            "skipped",
            note=f"{bad} {self.state[bad]}",
            reason=f"upstream {bad} {self.state[bad]}",
        )

    # -- loop ---------------------------------------------------------------------------

    def _submit(self, step: Step, inputs: dict[str, ArtifactRef], key: str,
                comps: dict[str, Any], running: dict[Future[Any], str]) -> None:  # fmt: skip
        latest = self.store.latest_entry(self.p.name, step.name)
        reason = "--force" if self.force else explain((latest or {}).get("components"), comps)
        task = replace(
            self.base_task,
            step=replace(step, inputs=dict(step.inputs)),
            kwargs={p: self.values[p] for p in step.params},
            inputs=inputs,
            input_steps=dict(step.inputs),
        )
        if self.executor is None:
            self.executor = InlineExecutor() if self.jobs == 1 else _process_pool(self.jobs)
        self._set(
            step.name, "running", note=reason if self.verbose else "", cache_key=key, reason=reason
        )
        self.record.save()
        fn: Callable[[StepTask], StepOutcome]
        if isinstance(self.executor, InlineExecutor):
            store, flusher = self.store, self.flusher

            def fn(t: StepTask) -> StepOutcome:
                flusher.step_started()
                try:
                    return execute(t, store)
                finally:
                    flusher.step_ended()
        else:
            fn = run_in_worker
        running[self.executor.submit(fn, task)] = step.name

    def _schedule(self, order: list[str], running: dict[Future[Any], str]) -> None:
        progress = True
        while progress:
            progress = False
            for name in order:
                if self.state[name] != "pending":
                    continue
                step = self.step_of(name)
                deps = [u for u in step.upstream if u in self.selected]
                bad = next((u for u in deps if self.state[u] in ("failed", "skipped")), None)
                if bad is not None:
                    self._skip_after_failure(name, bad)
                    progress = True
                    continue
                if any(self.state[u] not in ("ok", "cached") for u in deps):
                    continue
                inputs = self._inputs(step)
                key, comps = self._key(step, inputs)
                entry = None if self.force else self.store.get_entry(self.p.name, name, key)
                refs = self._valid(step, entry) if entry else None
                if refs is not None and entry is not None:
                    self.refs[name] = refs
                    metrics = entry.get("metrics") or {}
                    self.metrics.update(metrics)
                    now = iso(time.time())
                    self._set(name, "cached", 0.0, start=now, end=now, duration=0.0,
                              cache_key=key, cached_from=entry.get("run_id"),
                              inputs=self._input_record(step, inputs),
                              outputs={k: r.to_json() for k, r in refs.items()},
                              metrics=metrics)  # fmt: skip
                    progress = True
                    continue
                if len(running) >= self.jobs:
                    continue
                self._submit(step, inputs, key, comps, running)
                progress = True

    def _input_record(self, step: Step, inputs: dict[str, ArtifactRef]) -> dict[str, Any]:
        return {v: {"step": step.inputs[v], **r.to_json()} for v, r in inputs.items()}

    def _finish(self, name: str, future: Future[Any]) -> None:
        step = self.step_of(name)
        try:
            outcome: StepOutcome = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. BrokenProcessPool: a worker died
            now = time.time()
            from nb2pipe.runtime.execute import StepError

            outcome = StepOutcome(name, "failed", now, now)
            outcome.error = StepError(
                "crash", f"step {name!r}: its worker process died ({type(exc).__name__}: {exc})"
            )
            if self.executor is not None and not isinstance(self.executor, InlineExecutor):
                _stop_pool(self.executor)
                self.executor = None
        duration = outcome.end - outcome.start
        fields: dict[str, Any] = {
            "start": iso(outcome.start),
            "end": iso(outcome.end),
            "duration": round(duration, 6),
            "pid": outcome.pid or None,
            "log": f"logs/{name}.log",
            "figures": outcome.figures,
            "warnings": [_redact(w, self.redact) for w in outcome.warnings],
        }
        for w in fields["warnings"]:
            self.reporter.info(f"warning: {w}")
        if outcome.status == "ok":
            key, comps = self.keys[name]
            self.refs[name] = outcome.outputs
            self.metrics.update(outcome.metrics)
            entry = {
                "outputs": {k: r.to_json() for k, r in outcome.outputs.items()},
                "metrics": outcome.metrics,
                "run_id": self.record.data["run_id"],
                "created": iso(outcome.end),
                "duration": duration,
                "components": comps,
            }
            self.store.put_entry(self.p.name, name, key, entry)
            self._set(name, "ok", duration, **fields,
                      inputs=self._input_record(step, self._inputs(step)),
                      outputs=entry["outputs"], metrics=outcome.metrics)  # fmt: skip
        else:
            err = outcome.error
            assert err is not None
            message = _redact(err.message, self.redact)
            self.errors.append(message)
            error = {"kind": err.kind, "message": message, "type": err.exc_type,
                     "cell": err.cell, "line": err.line}  # fmt: skip
            self._set(name, "failed", duration, **fields, error=error)
            if err.kind == "interrupted":
                raise KeyboardInterrupt
            self.reporter.error(message)
            if self.verbose and err.traceback:
                self.reporter.info(_redact(err.traceback.rstrip(), self.redact))
        self.record.save()

    def run(self, providers: dict[str, _Provided]) -> str:
        order = [s.name for s in self.p.steps if s.name in self.selected]
        shown = [s.name for s in self.p.steps if s.name in self.selected or s.name in providers]
        self.reporter.start(shown)
        for s in self.p.steps:
            if s.name in providers:
                got = providers[s.name]
                self.refs[s.name] = got.refs
                note = f"not selected: outputs of run {got.run_id}" + (
                    "" if got.exact else ", stale"
                )
                self._set(s.name, "cached", 0.0, note=note, reason=note, cached_from=got.run_id,
                          stale=not got.exact, outputs={k: r.to_json() for k, r in got.refs.items()})  # fmt: skip
            elif s.name not in self.selected:
                self.state[s.name] = "skipped"
                self.record.step(s.name).update(status="skipped", reason="not selected")
        for name in order:
            self.state[name] = "pending"
            self.record.step(name)["status"] = "pending"
        self.record.save(force=True)
        running: dict[Future[Any], str] = {}
        try:
            while True:
                self._schedule(order, running)
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish(running.pop(future), future)
                self.record.flush()
            for name in order:
                if self.state[name] == "pending":  # pragma: no cover - defensive
                    self._set(name, "skipped", reason="not reachable")
            status = "failed" if self.errors else "ok"
        except KeyboardInterrupt:
            status = "interrupted"
            now = iso(time.time())
            for name in running.values():
                if self.state.get(name) == "running":
                    self._set(name, "failed", end=now, error={"kind": "interrupted",
                              "message": f"step {name!r} was interrupted"})  # fmt: skip
            for name in order:
                if self.state[name] in ("pending", "running"):
                    self._set(name, "skipped", reason="interrupted")
            if self.executor is not None and not isinstance(self.executor, InlineExecutor):
                _stop_pool(self.executor)
                self.executor = None
        finally:
            self.flusher.stop()
            if self.executor is not None:
                self.executor.shutdown(wait=True)
        return status


def run(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    param_args: Sequence[str] = (),
    yaml: str | None = None,
    params_file: str | None = None,
    only: Sequence[str] = (),
    from_step: str | None = None,
    until: str | None = None,
    jobs: int = 1,
    force: bool = False,
    runs_dir: str | os.PathLike[str] = "runs",
    store: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    verbose: bool = False,
    allow_mutation: bool = False,
    guard: bool = True,
    progress: str | None = None,
    command: Sequence[str] | None = None,
) -> RunResult:
    """Run ``pipeline``; raises :class:`UsageError` for bad options or parameters (before
    anything runs). ``params`` are Python values (checked against the parameter types);
    ``param_args`` are ``NAME=VALUE`` strings as given to ``-p``. ``progress``: "rich",
    "plain", "none" or None (rich on a terminal)."""
    started = time.time()
    graph.validate(pipeline)
    pkg_dir, pkg_root = package_dir(pipeline)
    workdir = Path(cwd).resolve() if cwd is not None else (pkg_dir / pipeline.workdir).resolve()
    if not workdir.is_dir():
        raise UsageError(f"working directory {workdir} does not exist (--cwd)")
    runs_path = Path(runs_dir).resolve()
    store_path = Path(store).resolve() if store is not None else runs_path / "store"
    if run_id is not None and (not _RUN_ID.match(run_id) or run_id == "store"):
        raise UsageError(f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-'")

    resolved = resolve_params(pipeline, overrides=params, param_args=param_args,
                              yaml_text=yaml, params_file=params_file)  # fmt: skip
    values = dict(resolved.values)
    derived = _derive(pipeline, values, workdir)
    values.update(derived)
    for s in pipeline.steps:
        for p in s.params:
            if p not in values:
                raise UsageError(
                    f"step {s.name!r} reads {p!r}, which is neither a parameter nor derived"
                )
    selected = graph.select(pipeline, only, from_step, until)
    redact = tuple(
        str(values[n])
        for n in resolved.secret
        if isinstance(values.get(n), str) and len(values[n]) >= 4
    )

    local_store = LocalStore(store_path)
    ctx = KeyContext(pkg_dir, workdir, FileHasher(local_store.file_cache()))
    base_task = StepTask(
        pipeline=pipeline.name, package=pipeline.package, package_dir=str(pkg_dir),
        package_root=str(pkg_root), step=pipeline.steps[0], kwargs={}, inputs={}, input_steps={},
        store_root=str(store_path), workdir=str(workdir), run_dir="", echo=verbose,
        guard=guard, allow_mutation=allow_mutation, redact=redact,
    )  # fmt: skip
    reporter = make_reporter(progress, quiet=quiet, verbose=verbose)
    scheduler = _Scheduler(pipeline=pipeline, selected=selected, values=values,
                           secret=resolved.secret, store=local_store, ctx=ctx, record=None,  # type: ignore[arg-type]
                           reporter=reporter, base_task=base_task, jobs=jobs, force=force,
                           verbose=verbose, redact=redact)  # fmt: skip
    providers = scheduler.resolve_providers()

    run_id = run_id or new_run_id(started)
    run_dir = runs_path / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UsageError(f"run {run_id!r} already exists in {runs_path}") from None
    local_store.root.mkdir(parents=True, exist_ok=True)
    local_store.mark()
    public = {k: jsonable(v) for k, v in resolved.values.items() if k not in resolved.secret}
    record = RunRecord(run_dir, {
        "run_id": run_id, "pipeline": pipeline.name, "package": pipeline.package,
        "status": "running", "start": iso(started), "end": None, "duration": None,
        "command": list(command) if command is not None else None,
        "workdir": str(workdir), "store": str(store_path),
        "options": {"jobs": jobs, "force": force, "only": list(only), "from": from_step,
                    "until": until, "allow_mutation": allow_mutation, "guard": guard},
        "parameters": public, "secret_parameters": sorted(resolved.secret),
        "derived": {k: jsonable(_redact(repr(v), redact)) if redact and any(r in repr(v) for r in redact)
                    else jsonable(v) for k, v in derived.items()},
        "notebook": pipeline.notebook, "notebook_sha256": pipeline.notebook_sha256,
        "generated_by": pipeline.generated_by, "spec_version": pipeline.spec_version,
        "versions": {}, "steps": {}, "metrics": {}, "error": None,
    })  # fmt: skip
    scheduler.record = record
    scheduler.flusher = _Flusher(record)
    scheduler.base_task = replace(base_task, run_dir=str(run_dir))

    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        status = scheduler.run(providers)
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend
        ctx.hasher.save()
    ended = time.time()
    record.data.update(
        status=status, end=iso(ended), duration=round(ended - started, 6),
        versions=_versions(ctx), metrics=jsonable(scheduler.metrics),
        error=scheduler.errors[0] if scheduler.errors else None,
    )  # fmt: skip
    record.save(force=True)

    exit_code = {"ok": EXIT_OK, "failed": EXIT_FAILED}.get(status, EXIT_INTERRUPTED)
    counts: dict[str, int] = {}
    for name in selected | set(providers):
        counts[scheduler.state[name]] = counts.get(scheduler.state[name], 0) + 1
    summary = ", ".join(
        f"{counts[k]} {k}" for k in ("ok", "cached", "failed", "skipped") if counts.get(k)
    )
    try:
        shown_dir = os.path.relpath(run_dir)
    except ValueError:
        shown_dir = str(run_dir)
    if shown_dir.startswith(".."):
        shown_dir = str(run_dir)
    reporter.finish(f"run {run_id} {status} in {ended - started:.2f}s: {summary} ({shown_dir})")
    return RunResult(
        run_id=run_id, status=status, exit_code=exit_code, run_dir=run_dir,
        store_dir=store_path, steps=record.data["steps"], outputs=dict(scheduler.refs),
        metrics=dict(scheduler.metrics), parameters=public, error=record.data["error"],
    )  # fmt: skip


def _derive(pipeline: Pipeline, values: dict[str, Any], workdir: Path) -> dict[str, Any]:
    if pipeline.derive is None:
        return {}
    previous = os.getcwd()
    try:
        os.chdir(workdir)  # derived values see the folder the notebook ran in
        derived = pipeline.derive(**values)
    except Exception as exc:  # noqa: BLE001 - bad parameter values make it fail
        raise UsageError(
            f"computing the derived values failed: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        os.chdir(previous)
    return dict(derived or {})


def _versions(ctx: KeyContext) -> dict[str, Any]:
    import platform

    import nb2pipe

    dists = ctx.versions
    for module in ("numpy", "pandas", "pyarrow", "joblib"):
        mod = sys.modules.get(module)
        if mod is not None and module not in dists:
            dists[module] = str(getattr(mod, "__version__", "?"))
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nb2pipe": nb2pipe.__version__,
        "distributions": dict(sorted(dists.items())),
    }


def main(pipeline: Pipeline, argv: Sequence[str] | None = None) -> int:
    """``python -m <package> [options]``: 0 ok, 1 a step or gate failed, 2 bad usage,
    130 interrupted."""
    from nb2pipe.runtime.options import build_parser

    parser = build_parser(prog=f"python -m {pipeline.package}")
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        result = run(
            pipeline, param_args=ns.params, yaml=ns.yaml, params_file=ns.params_file,
            only=ns.only, from_step=ns.from_step, until=ns.until, jobs=ns.jobs,
            force=ns.force, runs_dir=ns.runs_dir, store=ns.store, run_id=ns.run_id,
            cwd=ns.cwd, quiet=ns.quiet, verbose=ns.verbose,
            allow_mutation=ns.allow_mutation, guard=ns.guard,
            command=list(sys.argv[:1]) + list(sys.argv[1:] if argv is None else argv),
        )  # fmt: skip
    except UsageError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("[nb2pipe] interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return result.exit_code
