"""The publish run hook: what happens after the steps of a run, beside its metrics: the
baseline gate (``--max-regression``), model registration (with the reference statistics
``nb2pipe drift`` compares with, and the feature schema ``nb2pipe serve`` checks) and,
with ``--tracking mlflow``, the MLflow run. Registered under ``nb2pipe.run_hooks``
(:mod:`nb2pipe.runtime.hooks`); the runtime alone registers nothing.

A model declared with ``model:NAME`` is registered only when the run computed the whole
pipeline (every step ok or cached, none stale or left out by ``--only/--from/--until``),
passed every gate and the baseline gate. A model identical to a registered version
(same artifact hash) adds no version. Whether the champion pointer moves to the run's
version is the champion policy's call (``--promote``, see :mod:`.promote`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2pipe.mlops.registry import (
    CHAMPION,
    Candidate,
    ModelVersion,
    Registry,
    RegistryError,
    backends,
    default_tracking,
    open_registry,
)
from nb2pipe.mlops.registry.promote import check_policy, decide, message, primary_metric
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.hashing import sha256_json
from nb2pipe.runtime.hooks import FinishedRun
from nb2pipe.runtime.metrics import directions, parse_limits, regressions
from nb2pipe.runtime.plan import RunPlan
from nb2pipe.runtime.project import runs_location
from nb2pipe.runtime.records import iso, jsonable
from nb2pipe.runtime.spec import Pipeline

_PROFILE_MAX = 512 * 2**20  # training inputs larger than this (stored) are not profiled


def _why(exc: Exception) -> str:
    """One line: an OSError names its file and its cause (``[Errno 30] ...`` left out)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return " ".join(str(exc).split())


def _check_reachable(uri: str, timeout: float = 5.0) -> None:
    """An http(s) tracking server must answer before the steps run: MLflow's client would
    otherwise retry for minutes after them."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    import socket

    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(
            f"cannot reach the MLflow tracking server at {uri}: {exc.strerror or exc}"
        ) from None


@dataclass(frozen=True)
class ModelDecl:
    name: str
    step: str
    variable: str


def declared_models(pipeline: Pipeline) -> tuple[list[ModelDecl], list[str]]:
    """``Step.models`` entries ``NAME=VARIABLE`` (or ``NAME``: the output called NAME, else
    the step's only output). Returns the declarations and warnings."""
    found: list[ModelDecl] = []
    warnings: list[str] = []
    for step in pipeline.steps:
        for entry in step.models:
            name, sep, var = str(entry).partition("=")
            if not sep:
                var = name if name in step.outputs else ""
                if not var and len(step.outputs) == 1:
                    var = step.outputs[0]
            if not var or var not in step.outputs:
                warnings.append(
                    f"model {name!r} (step {step.name!r}): no output of the step holds it; "
                    "it is not registered"
                )
                continue
            found.append(ModelDecl(name, step.name, var))
    return found, warnings


class PublishHook:
    """The run hook (entry point ``publish`` of ``nb2pipe.run_hooks``): its options are
    checked before the run (a UsageError before anything runs); after the steps it checks
    the baseline and registers the models; with MLflow it tracks every run."""

    order = 50

    def before_run(self, plan: RunPlan) -> None:
        config = plan.config
        self.pipeline = plan.pipeline
        self.promote = check_policy(config.promote)
        self.kind = (config.tracking or default_tracking()).lower()
        if self.kind not in backends():
            raise UsageError(f"--tracking {self.kind!r}: use {' or '.join(backends())}")
        if self.kind == "mlflow" and importlib.util.find_spec("mlflow") is None:
            raise UsageError(
                "--tracking mlflow needs the mlflow package: pip install 'nb2pipe[mlflow]'"
            )
        tracking_uri = config.tracking_uri
        if self.kind == "mlflow":
            from nb2pipe.runtime.project import setting

            tracking_uri = (
                tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or setting("tracking_uri")
            )
            _check_reachable(tracking_uri or "")
        self.uri = tracking_uri
        self.registry_dir = config.registry
        self.runs_dir = plan.runs_dir or runs_location(config.runs_dir).path
        self.limits = parse_limits(config.max_regression)
        self.register = config.register
        self.models, self.warnings = declared_models(plan.pipeline)
        if self.limits and not self.models:
            raise UsageError(
                "--max-regression compares with the registered model, but the pipeline "
                "declares none (tag the cell that creates it model:NAME)"
            )
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = open_registry(
                self.kind, registry=self.registry_dir, runs_dir=self.runs_dir, uri=self.uri
            )
        return self._registry

    @property
    def active(self) -> bool:
        """Does anything need the registry after this run?"""
        return bool(self.models and (self.register or self.limits)) or self.kind == "mlflow"

    # -- after the run ------------------------------------------------------------------------

    def after_run(self, run: FinishedRun) -> None:
        """Check the baseline, register (a regression or a registry failure fails the run)."""
        data = run.data
        dirs = directions(self.pipeline, data.get("metrics") or {})
        models: dict[str, Any] = {}
        data["models"] = models
        for w in self.warnings:
            run.reporter.info(f"warning: {w}")
        try:
            if self.kind == "mlflow":  # every run is tracked, a failed one too
                self.registry.start_run(data, run.record.run_dir)
            if data.get("status") == "ok" and self.active:
                self._after_success(run, dirs, models)
        except (RegistryError, UsageError, OSError) as exc:  # OSError: e.g. a read-only folder
            why = f"model registry: {_why(exc)}"
            for m in self.models:
                models.setdefault(m.name, {"registered": False, "reason": why})
            run.fail(why)

    def after_record(self, run: FinishedRun) -> None:
        """MLflow: end its run (run.json and metrics.json are logged with it)."""
        if self.kind == "mlflow" and self._registry is not None:
            try:
                self.registry.end_run(run.data, run.record.run_dir)
            except (RegistryError, OSError) as exc:
                run.fail(f"model registry: {_why(exc)}")

    def _eligible(self, run: FinishedRun) -> str | None:
        """Why this run's models cannot be registered, or None."""
        for s in self.pipeline.steps:
            state = run.states.get(s.name)
            if state not in ("ok", "cached"):
                return f"step {s.name!r} did not run ({state or 'not selected'})"
            if run.record.step(s.name).get("stale"):
                return f"step {s.name!r} used a stale result"
        return None

    def _after_success(
        self, run: FinishedRun, dirs: dict[str, str], models: dict[str, Any]
    ) -> None:
        data, reporter = run.data, run.reporter
        why = self._eligible(run)
        if why is not None:
            for m in self.models:
                models[m.name] = {"registered": False, "reason": why}
            if self.register:
                reporter.info(f"models not registered: {why} (run the whole pipeline)")
            if self.limits:
                reporter.info("baseline gate skipped: " + why)
            return
        if self.limits:
            failures: list[str] = []
            for m in self.models:
                try:
                    champion = self.registry.get(m.name)
                except RegistryError as exc:
                    if "no model" not in str(exc) and "no version" not in str(exc):
                        raise
                    reporter.info(f"baseline gate: {m.name} has no registered version yet")
                    continue
                failures += regressions(
                    data.get("metrics") or {},
                    champion.metrics,
                    self.limits,
                    dirs,
                    against=f"{champion.label} ({CHAMPION})",
                )
            data["baseline"] = {"limits": [str(x) for x in self.limits], "failures": failures}
            if failures:
                for m in self.models:
                    models[m.name] = {"registered": False, "reason": "baseline gate failed"}
                run.fail("baseline gate failed: " + "; ".join(failures))
                return
        if not self.register:
            return
        for m in self.models:
            with run.store.local_file(run.refs[m.step][m.variable]) as path:
                candidate = self._candidate(m, run, dirs, path)
                decision = decide(self.registry, candidate, self.promote)
                candidate.meta.promotion = decision
                move = decision["decision"] == "promoted"
                result = self.registry.register(candidate, alias=CHAMPION if move else None)
            after = self.registry.alias_version(m.name, CHAMPION)
            decision = {**decision, "champion_after": after}
            if not result.new and decision["champion_before"] == result.version.version:
                decision["decision"] = "already champion"
            models[m.name] = {
                "registered": True,
                "version": result.version.version,
                "new": result.new,
                "alias": CHAMPION if after == result.version.version else None,
                "backend": self.kind,
                "promotion": decision,
            }
            reporter.info(message(result.version.label, result.new, decision))

    def _candidate(
        self, m: ModelDecl, run: FinishedRun, dirs: dict[str, str], path: Path
    ) -> Candidate:
        data = run.data
        ref = run.refs[m.step][m.variable]
        comps = {name: c for name, (_key, c) in run.keys.items()}
        files: dict[str, str] = {}
        for c in comps.values():
            files.update(c.get("files") or {})
        code_steps = {name: c.get("code") for name, c in sorted(comps.items())}
        common: dict[str, str] = {}
        for c in comps.values():
            common.update(c.get("common") or {})
        step = self.pipeline.step(m.step)
        inputs = {var: run.refs[prod][var] for var, prod in step.inputs.items()}
        loaded = functools.cache(lambda: self._inputs(run.store, inputs))
        meta = ModelVersion(
            name=m.name,
            version=0,
            created=iso(time.time()) or "",
            run_id=str(data.get("run_id")),
            pipeline=self.pipeline.name,
            step=m.step,
            variable=m.variable,
            artifact=ref.to_json(),
            parameters=dict(data.get("parameters") or {}),
            metrics=dict(data.get("metrics") or {}),
            directions={k: dirs[k] for k in data.get("metrics") or {}},
            data={"files": files, "inputs": {v: r.hash for v, r in inputs.items()}},
            code={
                "digest": sha256_json({"steps": code_steps, "common": common}),
                "steps": code_steps,
                "common": common,
                "notebook_sha256": data.get("notebook_sha256"),
            },
            gates=dict(data.get("gates") or {}),
            primary=primary_metric(self.pipeline, data.get("metrics") or {}),
        )
        return Candidate(
            meta=meta,
            artifact_path=path,
            profile=lambda: self._reference(loaded()),
            describe=lambda: self._schema(run.store, ref, loaded()),
        )

    def _inputs(self, store: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """The model step's inputs (the training data), read back from the store."""
        values: dict[str, Any] = {}
        for var, ref in inputs.items():
            if ref.size > _PROFILE_MAX:
                continue
            try:
                values[var] = store.load(ref)
            except Exception:  # noqa: BLE001, S112 - a value we cannot read is not profiled
                continue
        return values

    def _schema(self, store: Any, ref: Any, values: dict[str, Any]) -> dict[str, Any] | None:
        """The features the model takes (names, types, training ranges), for serving."""
        try:
            from nb2pipe.mlops.schema import infer

            return jsonable(infer(store.load(ref), values))
        except Exception:  # noqa: BLE001 - a schema is a bonus, never a failure
            return None

    def _reference(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """Reference statistics of the model step's inputs (the training data)."""
        if not values:
            return None
        try:
            from nb2pipe.mlops.drift import profile

            ref_stats = profile(values)
        except Exception:  # noqa: BLE001 - statistics are a bonus, never a failure
            return None
        return jsonable(ref_stats) if ref_stats else None
