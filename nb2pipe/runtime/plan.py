"""A run is prepared once: :func:`prepare` turns a pipeline and a :class:`RunConfig` into
a :class:`RunPlan` (the package's folder, the working directory, the parameter values
checked and typed, the derived values, the secrets to redact, the selected steps).

The local runner (:mod:`nb2pipe.runtime.runner`) and an orchestrator's step
(:mod:`nb2pipe.runtime.remote`) both start here, so a step run by Airflow or KFP sees
exactly the values ``nb2pipe run`` would give it. Everything that can be wrong with the
options is a :class:`UsageError` raised here, before anything runs or is written.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2pipe.runtime import graph
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.executors import StepExecutor, executor_class
from nb2pipe.runtime.options import missing_secrets, resolve_params
from nb2pipe.runtime.records import jsonable
from nb2pipe.runtime.spec import Pipeline, Step

if TYPE_CHECKING:
    from nb2pipe.runtime.execute import StepTask
    from nb2pipe.runtime.store import ArtifactRef


@dataclass
class RunConfig:
    """The options of one run: what ``python -m <package>``'s command line holds, as
    Python values. ``params`` are values (checked against the parameter types),
    ``param_args`` ``NAME=VALUE`` strings as given to ``-p``. ``progress``: "rich",
    "plain", "none" or None (rich on a terminal). ``executor``: the name of an executor
    plugin (default: ``inline`` for ``jobs=1``, else ``process``). ``tracking``,
    ``tracking_uri``, ``registry``, ``max_regression``, ``register`` and ``promote`` are
    read by the run hooks (the publish hook of :mod:`nb2pipe.mlops.publish`).
    ``workdir_fallback``: when the notebook's folder does not exist here (a worker, a
    container), run in a scratch folder instead of refusing."""

    params: Mapping[str, Any] | None = None
    param_args: Sequence[str] = ()
    yaml: str | None = None
    params_file: str | None = None
    only: Sequence[str] = ()
    from_step: str | None = None
    until: str | None = None
    jobs: int = 1
    executor: str | None = None
    address: str | None = None  # the cluster of a distributed executor (--address)
    force: bool = False
    runs_dir: str | os.PathLike[str] | None = None  # None: the project's (runtime/project.py)
    store: str | os.PathLike[str] | None = None
    run_id: str | None = None
    cwd: str | os.PathLike[str] | None = None
    quiet: bool = False
    verbose: bool = False
    allow_mutation: bool = False
    guard: bool = True
    progress: str | None = None
    command: Sequence[str] | None = None
    tracking: str | None = None
    tracking_uri: str | None = None
    registry: str | os.PathLike[str] | None = None
    max_regression: Sequence[str] = ()
    register: bool = True
    promote: str = "if-better"
    workdir_fallback: bool = False
    strict: bool | None = None  # refuse a package older than its notebook (None: project, CI)
    hooks: Sequence[Any] | None = None  # run hooks (None: the installed ones)
    timeout: float | None = None  # seconds per step (a step's `timeout=S` option wins)
    max_memory: int | None = None  # bytes per step, in worker processes (RLIMIT_AS)


@dataclass
class RunPlan:
    """A prepared run: everything :func:`prepare` checked and computed."""

    pipeline: Pipeline
    config: RunConfig
    package_dir: Path
    package_root: Path  # the folder to put on sys.path to import the package
    workdir: Path
    values: dict[str, Any]  # parameters and derived values, by name
    derived: dict[str, Any]
    secret: frozenset[str]  # names of secret parameters
    hidden: tuple[str, ...]  # secret values to redact from logs and records
    selected: set[str]  # the steps to run
    executor: type[StepExecutor]  # where the steps run
    notes: list[str] = field(default_factory=list)  # warnings to show before running
    runs_dir: Path | None = None  # the runs folder, once the local runner has found it

    @property
    def public(self) -> dict[str, Any]:
        """The parameters as JSON, secrets left out (for run.json)."""
        params = self.pipeline.param_map
        return {
            k: jsonable(v) for k, v in self.values.items() if k in params and k not in self.secret
        }

    @property
    def notebook(self) -> str:
        nb = self.pipeline.notebook
        return str((self.package_dir / nb).resolve()) if nb else ""

    def task(
        self,
        step: Step,
        inputs: dict[str, ArtifactRef],
        *,
        store_root: str,
        run_dir: str,
        previous: dict[str, ArtifactRef] | None = None,
    ) -> StepTask:
        """What an executor needs to run ``step`` (it crosses to worker processes)."""
        from nb2pipe.runtime.execute import StepTask
        from nb2pipe.runtime.limits import step_timeout

        return StepTask(
            pipeline=self.pipeline.name,
            package=self.pipeline.package,
            package_dir=str(self.package_dir),
            package_root=str(self.package_root),
            step=replace(step, inputs=dict(step.inputs)),
            kwargs={p: self.values[p] for p in step.params},
            inputs=inputs,
            input_steps=dict(step.inputs),
            store_root=store_root,
            workdir=str(self.workdir),
            run_dir=run_dir,
            echo=self.config.verbose,
            guard=self.config.guard,
            allow_mutation=self.config.allow_mutation,
            redact=self.hidden,
            notebook=self.notebook,
            previous=dict(previous or {}),
            timeout=step_timeout(step, self.config.timeout),
            max_memory=self.config.max_memory,
        )


def prepare(pipeline: Pipeline, config: RunConfig) -> RunPlan:
    """Check ``config`` against ``pipeline`` and compute what a run of it needs."""
    graph.validate(pipeline)
    pkg_dir, pkg_root = package_dir(pipeline)
    workdir, notes = _workdir(pipeline, pkg_dir, config)
    resolved = resolve_params(
        pipeline,
        overrides=config.params,
        param_args=config.param_args,
        yaml_text=config.yaml,
        params_file=config.params_file,
    )
    selected = graph.select(pipeline, config.only, config.from_step, config.until)
    if config.max_memory and config.executor == "inline":
        raise UsageError("--max-memory limits worker processes: not with --executor inline")
    executor = executor_class(config.executor or ("process" if config.max_memory else None),
                              config.jobs)  # fmt: skip
    values = dict(resolved.values)
    missing_secrets(pipeline, selected, values)
    derived = derive(pipeline, values, workdir)
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
    return RunPlan(
        pipeline=pipeline,
        config=config,
        package_dir=pkg_dir,
        package_root=pkg_root,
        workdir=workdir,
        values=values,
        derived=derived,
        secret=resolved.secret,
        hidden=hidden,
        selected=selected,
        executor=executor,
        notes=notes,
    )


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


def _workdir(pipeline: Pipeline, pkg_dir: Path, config: RunConfig) -> tuple[Path, list[str]]:
    if config.cwd is not None:
        workdir = Path(config.cwd).resolve()
        if not workdir.is_dir():
            raise UsageError(f"working directory {workdir} does not exist (--cwd)")
        return workdir, []
    workdir = (pkg_dir / pipeline.workdir).resolve()
    if workdir.is_dir():
        return workdir, []
    if not config.workdir_fallback:
        raise UsageError(f"working directory {workdir} does not exist (--cwd)")
    # The package was copied where the notebook's folder does not exist (a worker, a
    # container): run in a scratch folder; a relative path the notebook used fails there
    # loudly rather than reading something else.
    scratch = Path(tempfile.mkdtemp(prefix="nb2pipe-cwd-"))
    steps = f"step {config.only[0]!r} runs" if len(config.only) == 1 else "the steps run"
    note = (
        f"the notebook's folder {workdir} does not exist here: {steps} in {scratch}, "
        "so relative paths the notebook used do not resolve"
    )
    return scratch, [note]


def derive(pipeline: Pipeline, values: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """The pipeline's derived values, computed in ``workdir`` (the folder the notebook ran
    in) from the parameter ``values``."""
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
