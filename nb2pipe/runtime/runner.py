"""``run()`` and ``main()``: options and parameters in, a run record and a result out.

The scheduling loop lives in :mod:`nb2pipe.runtime.scheduler`; the executors in
:mod:`nb2pipe.runtime.executors`; one step's execution in :mod:`nb2pipe.runtime.execute`.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nb2pipe.runtime import freshness, graph
from nb2pipe.runtime.cache import KeyContext
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.execute import StepTask
from nb2pipe.runtime.hashing import FileHasher
from nb2pipe.runtime.options import missing_secrets, resolve_params
from nb2pipe.runtime.progress import make_reporter
from nb2pipe.runtime.project import runs_location
from nb2pipe.runtime.providers import resolve_providers
from nb2pipe.runtime.records import RunRecord, iso, jsonable, new_run_id
from nb2pipe.runtime.registry.publish import Publisher
from nb2pipe.runtime.scheduler import Scheduler, redact
from nb2pipe.runtime.spec import Pipeline
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
    models: dict[str, Any] = field(default_factory=dict)  # name -> {registered, version, ...}

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def load(self, step: str, name: str) -> Any:
        """An output of a step of this run (ran or cached), read back from the store."""
        return LocalStore(self.store_dir).load(self.outputs[step][name])


def package_dir(pipeline: Pipeline) -> tuple[Path, Path]:
    """The package's folder and the folder to put on sys.path to import it."""
    try:
        module = sys.modules.get(pipeline.package) or importlib.import_module(pipeline.package)
    except ImportError as exc:
        raise UsageError(
            f"cannot import the pipeline's package {pipeline.package!r}: {exc}"
        ) from None
    if not getattr(module, "__file__", None):
        raise UsageError(f"package {pipeline.package!r} has no folder on disk")
    folder = Path(module.__file__ or "").resolve().parent
    root = folder
    for _ in pipeline.package.split("."):
        root = root.parent
    return folder, root


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
    runs_dir: str | os.PathLike[str] | None = None,
    store: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    verbose: bool = False,
    allow_mutation: bool = False,
    guard: bool = True,
    progress: str | None = None,
    command: Sequence[str] | None = None,
    tracking: str | None = None,
    tracking_uri: str | None = None,
    registry: str | os.PathLike[str] | None = None,
    max_regression: Sequence[str] = (),
    register: bool = True,
    promote: str = "if-better",
    strict: bool | None = None,
) -> RunResult:
    """Run ``pipeline``; raises :class:`UsageError` for bad options or parameters (before
    anything runs). ``params`` are Python values (checked against the parameter types);
    ``param_args`` are ``NAME=VALUE`` strings as given to ``-p``. ``progress``: "rich",
    "plain", "none" or None (rich on a terminal). ``tracking`` ("local" or "mlflow"),
    ``tracking_uri``, ``registry``, ``max_regression``, ``register`` and ``promote``: see
    :mod:`nb2pipe.runtime.registry.publish`. ``strict``: refuse a package older than its
    notebook (None: the project's ``strict`` setting, or ``CI=true``)."""
    started = time.time()
    graph.validate(pipeline)
    pkg_dir, pkg_root = package_dir(pipeline)
    stale = freshness.check(pipeline, pkg_dir, strict=freshness.strict(strict, pkg_dir))
    if stale:
        print(f"[nb2pipe] warning: {stale}", file=sys.stderr, flush=True)
    workdir = Path(cwd).resolve() if cwd is not None else (pkg_dir / pipeline.workdir).resolve()
    if not workdir.is_dir():
        raise UsageError(f"working directory {workdir} does not exist (--cwd)")
    runs_path = runs_location(runs_dir, start=pkg_dir).path
    store_path = Path(store).resolve() if store is not None else runs_path / "store"
    if run_id is not None and not _RUN_ID.fullmatch(run_id):
        raise UsageError(f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-'")
    reg = Path(registry or os.environ.get("NB2PIPE_REGISTRY") or runs_path / "registry").resolve()
    taken = {"store", "registry", "packages"} | {
        p.name for p in (store_path, reg) if p.parent == runs_path
    }
    if run_id is not None and run_id.rstrip(". ").casefold() in {t.casefold() for t in taken}:
        raise UsageError(f"--run-id {run_id!r} names a folder the runs dir keeps for itself "
                         f"({', '.join(sorted(taken))}, in any case): choose another")  # fmt: skip

    resolved = resolve_params(
        pipeline, overrides=params, param_args=param_args, yaml_text=yaml, params_file=params_file
    )
    values = dict(resolved.values)
    selected = graph.select(pipeline, only, from_step, until)
    missing_secrets(pipeline, selected, values)
    derived = _derive(pipeline, values, workdir)
    values.update(derived)
    for s in pipeline.steps:
        for p in s.params:
            if p not in values:
                raise UsageError(
                    f"step {s.name!r} reads {p!r}, which is neither a parameter nor derived"
                )
    hidden = tuple(
        str(values[n])
        for n in resolved.secret
        if isinstance(values.get(n), str) and len(values[n]) >= 4
    )

    local_store = LocalStore(store_path)
    ctx = KeyContext(pkg_dir, workdir, FileHasher(local_store.file_cache()))
    base_task = StepTask(
        pipeline=pipeline.name,
        package=pipeline.package,
        package_dir=str(pkg_dir),
        package_root=str(pkg_root),
        step=pipeline.steps[0],
        kwargs={},
        inputs={},
        input_steps={},
        store_root=str(store_path),
        workdir=str(workdir),
        run_dir="",
        echo=verbose,
        guard=guard,
        allow_mutation=allow_mutation,
        redact=hidden,
        notebook=str((pkg_dir / pipeline.notebook).resolve()) if pipeline.notebook else "",
    )
    providers = resolve_providers(pipeline, selected, local_store, ctx, values, resolved.secret)
    publisher = Publisher(
        pipeline,
        runs_dir=runs_path,
        tracking=tracking,
        tracking_uri=tracking_uri,
        registry=registry,
        max_regression=max_regression,
        register=register,
        promote=promote,
    )

    run_id = run_id or new_run_id(started)
    run_dir = runs_path / run_id
    for folder, what in ((runs_path, "--runs-dir"), (local_store.root, "--store")):
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{what} {folder} is a file, not a folder")
    try:
        local_store.root.mkdir(parents=True, exist_ok=True)
        local_store.mark()
    except OSError as exc:
        raise UsageError(
            f"cannot write the store {local_store.root}: {exc.strerror or exc}"
        ) from None
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UsageError(f"run {run_id!r} already exists in {runs_path}") from None
    except OSError as exc:
        raise UsageError(f"cannot write runs to {runs_path}: {exc.strerror or exc}") from None
    public = {k: jsonable(v) for k, v in resolved.values.items() if k not in resolved.secret}
    record = RunRecord(
        run_dir,
        {
            "run_id": run_id,
            "pipeline": pipeline.name,
            "package": pipeline.package,
            "status": "running",
            "start": iso(started),
            "end": None,
            "duration": None,
            "command": list(command) if command is not None else None,
            "cwd": os.getcwd(),
            "workdir": str(workdir),
            "store": str(store_path),
            "options": {
                "jobs": jobs,
                "force": force,
                "only": list(only),
                "from": from_step,
                "until": until,
                "allow_mutation": allow_mutation,
                "guard": guard,
            },
            "parameters": public,
            "secret_parameters": sorted(resolved.secret),
            "derived": {
                k: jsonable(redact(repr(v), hidden))
                if hidden and any(r in repr(v) for r in hidden)
                else jsonable(v)
                for k, v in derived.items()
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
        },
    )
    reporter = make_reporter(progress, quiet=quiet, verbose=verbose)
    scheduler = Scheduler(
        pipeline=pipeline,
        selected=selected,
        values=values,
        secret=resolved.secret,
        store=local_store,
        ctx=ctx,
        record=record,
        reporter=reporter,
        base_task=replace(base_task, run_dir=str(run_dir)),
        jobs=jobs,
        force=force,
        verbose=verbose,
        redact=hidden,
    )

    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        status = scheduler.run(providers)
    except BaseException as exc:  # e.g. the disk is full: stop the display, then report
        reporter.finish(f"run {run_id} stopped: {type(exc).__name__}: {exc}")
        raise
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend
        ctx.hasher.save()
    ended = time.time()
    record.data.update(
        status=status,
        end=iso(ended),
        duration=round(ended - started, 6),
        versions=_versions(ctx),
        metrics=jsonable(scheduler.metrics),
        error=scheduler.errors[0] if scheduler.errors else None,
    )
    status = publisher.finish(record, scheduler, reporter)  # gates passed: baseline, registry
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
        run_id=run_id,
        status=status,
        exit_code=exit_code,
        run_dir=run_dir,
        store_dir=store_path,
        steps=record.data["steps"],
        outputs=dict(scheduler.refs),
        metrics=dict(scheduler.metrics),
        parameters=public,
        error=record.data["error"],
        models=dict(record.data.get("models") or {}),
    )


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


def main(
    pipeline: Pipeline,
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    command: Sequence[str] | None = None,
) -> int:
    """``python -m <package> [options]``: 0 ok, 1 a step or gate failed, 2 bad usage,
    130 interrupted. ``command``: the command line to record (default: this process's, as
    typed, when ``argv`` is None)."""
    from nb2pipe.runtime.options import build_parser
    from nb2pipe.runtime.records import typed_command

    parser = build_parser(prog=prog or f"python -m {pipeline.package}", pipeline=pipeline)
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        result = run(
            pipeline,
            param_args=ns.params,
            yaml=ns.yaml,
            params_file=ns.params_file,
            only=ns.only,
            from_step=ns.from_step,
            until=ns.until,
            jobs=ns.jobs,
            force=ns.force,
            runs_dir=ns.runs_dir,
            store=ns.store,
            run_id=ns.run_id,
            cwd=ns.cwd,
            quiet=ns.quiet,
            verbose=ns.verbose,
            allow_mutation=ns.allow_mutation,
            guard=ns.guard,
            tracking=ns.tracking,
            tracking_uri=ns.tracking_uri,
            registry=ns.registry,
            max_regression=ns.max_regression,
            register=ns.register,
            promote=ns.promote,
            strict=ns.strict or None,
            command=command
            if command is not None
            else typed_command()
            if argv is None
            else ["python", "-m", pipeline.package, *argv],
        )
    except UsageError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("[nb2pipe] interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the runs dir or the store cannot be written (disk full, ...)
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILED
    return result.exit_code
