"""Run ONE step of a generated package, as an orchestrator's task does (Airflow, KFP).

The orchestrator owns the schedule; nb2pipe runs the step the same way ``nb2pipe run``
does (:func:`nb2pipe.runtime.execute.execute`: parameters checked and typed, derived values
computed, inputs loaded and hash-checked, the guard against in-place changes, outputs
stored, metrics taken, a failing gate fails the task) and returns what the next task
needs: the outputs' artifact references and the metrics, as plain JSON.

Two entry points:

- :func:`run_step` keeps artifacts in a store every worker can reach (a local path or an
  fsspec URL such as ``s3://bucket/prefix``), takes inputs from the upstream tasks' results
  (or from their records of the same run in the store), reuses a cached result when the
  cache key matches, and records the step in ``<store>/runs/<run_id>/``: its log under
  ``logs/<step>.log``, then its record ``steps/<step>.json`` (the manifest, written last).
- :func:`run_kfp_step` reads inputs from and writes outputs to the files of KFP artifacts
  (``.path``, ``.metadata``) and logs metrics on a KFP ``Metrics`` artifact; KFP passes the
  data and caches the tasks.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2pipe.runtime import graph
from nb2pipe.runtime.cache import KeyContext, cache_key, key_components
from nb2pipe.runtime.errors import StepFailed, UsageError
from nb2pipe.runtime.execute import StepOutcome, execute
from nb2pipe.runtime.hashing import FileHasher
from nb2pipe.runtime.plan import RunConfig, RunPlan, prepare
from nb2pipe.runtime.providers import valid_refs
from nb2pipe.runtime.records import iso, jsonable
from nb2pipe.runtime.scheduler import redact
from nb2pipe.runtime.spec import Pipeline
from nb2pipe.runtime.store import ArtifactRef, LocalStore, Store, open_store

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
__all__ = ["StepFailed", "load_pipeline", "run_kfp_step", "run_step", "safe_run_id", "step_record"]


def safe_run_id(run_id: str) -> str:
    """An orchestrator's run id (``manual__2026-01-01T00:00:00+00:00``) as a folder name;
    a short hash keeps two ids that differ only in replaced characters apart."""
    text = str(run_id)
    safe = _UNSAFE.sub("_", text).strip("._-")[:96] or "run"
    if safe != text:
        safe += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return safe


def load_pipeline(package: str, package_path: str | os.PathLike[str] | None = None) -> Pipeline:
    """Import ``<package>.pipeline`` (from ``package_path`` when given) and return PIPELINE."""
    if package_path:
        folder = os.fspath(package_path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(f"{package}.pipeline")
    except ImportError as exc:
        where = f" from {package_path}" if package_path else ""
        raise UsageError(f"cannot import the pipeline package {package!r}{where}: {exc}") from None
    pipeline = getattr(module, "PIPELINE", None)
    if not isinstance(pipeline, Pipeline):
        raise UsageError(f"{package}.pipeline defines no PIPELINE")
    graph.validate(pipeline)
    return pipeline


def _prepare(
    pipeline: Pipeline,
    name: str,
    params: Mapping[str, Any] | None,
    cwd: str | None,
    param_text: Mapping[str, str] | None = None,
    **options: Any,
) -> RunPlan:
    """The step's run, prepared as ``nb2pipe run`` prepares one (:func:`prepare`)."""
    try:
        pipeline.step(name)
    except KeyError:
        steps = ", ".join(s.name for s in pipeline.steps)
        raise UsageError(f"pipeline {pipeline.name!r} has no step {name!r} ({steps})") from None
    config = RunConfig(
        params=params,
        param_args=[f"{k}={v}" for k, v in (param_text or {}).items()],
        cwd=cwd,
        only=[name],
        workdir_fallback=True,
        **options,
    )
    return prepare(pipeline, config)


def _execute(
    plan: RunPlan, store: Any, inputs: dict[str, ArtifactRef], run_dir: Path
) -> StepOutcome:
    step = plan.pipeline.step(plan.config.only[0])
    task = plan.task(step, inputs, store_root=store.location, run_dir=str(run_dir))
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        return execute(task, store)
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend


# --- records in the store ---------------------------------------------------------------


def step_record(store: Store, run_id: str, step: str) -> dict[str, Any] | None:
    """The record (manifest) of ``step`` in run ``run_id``, or None."""
    doc = store.read_json(f"runs/{safe_run_id(run_id)}/steps/{step}.json")
    return doc if isinstance(doc, dict) else None


def _input_refs(
    plan: RunPlan, store: Any, run_id: str, upstream: Mapping[str, Any] | None
) -> dict[str, ArtifactRef]:
    refs: dict[str, ArtifactRef] = {}
    records: dict[str, dict[str, Any] | None] = {}
    step = plan.pipeline.step(plan.config.only[0])
    for var, producer in step.inputs.items():
        result = (upstream or {}).get(producer)
        if not isinstance(result, Mapping):
            if producer not in records:
                records[producer] = step_record(store, run_id, producer)
            result = records[producer]
        outputs = (result or {}).get("outputs") or {}
        if var not in outputs:
            raise StepFailed(
                f"step {step.name!r} needs {var!r} from step {producer!r}, which has no "
                f"result in run {run_id!r}: run {producer!r} first",
                "input",
            )
        refs[var] = ArtifactRef.from_json(outputs[var])
    return refs


def run_step(
    package: str,
    step: str,
    *,
    store: str | os.PathLike[str] | Any,
    run_id: str,
    params: Mapping[str, Any] | None = None,
    upstream: Mapping[str, Any] | None = None,
    package_path: str | os.PathLike[str] | None = None,
    cwd: str | None = None,
    cache: bool = True,
    guard: bool = True,
    allow_mutation: bool = False,
    echo: bool = True,
) -> dict[str, Any]:
    """Run ``step`` of the package ``package`` for the orchestrator's run ``run_id``.

    ``params``: parameter values (JSON-like; checked against the parameter types, unset
    ones take their defaults, secrets come from their environment variables);
    ``upstream``: ``{step: result}`` of the steps it reads from, as this function returned
    them (when absent, their records of the same run are read from the store). Returns
    ``{"step", "status" ("ok" | "cached"), "outputs" {var: ref}, "metrics", ...}`` (JSON);
    raises :class:`StepFailed` when the step fails and ``UsageError`` for bad input."""
    pipeline = load_pipeline(package, package_path)
    prep = _prepare(
        pipeline, step, params, cwd, guard=guard, allow_mutation=allow_mutation, verbose=echo
    )
    the_step = pipeline.step(step)
    st = open_store(store) if isinstance(store, (str, os.PathLike)) else store
    rid = safe_run_id(run_id)
    for note in prep.notes:
        print(f"[nb2pipe] warning: {note}", file=sys.stderr)
    base = f"runs/{rid}"
    record: dict[str, Any] = {
        "schema": 1,
        "pipeline": pipeline.name,
        "step": step,
        "run_id": rid,
        "orchestrator_run_id": str(run_id),
        "parameters": prep.public,
        "warnings": list(prep.notes),
    }
    try:
        inputs = _input_refs(prep, st, str(run_id), upstream)
    except StepFailed as exc:
        record.update(status="failed", error={"kind": exc.kind, "message": exc.message})
        st.write_json(f"{base}/steps/{step}.json", record)
        raise
    record["inputs"] = {v: {"step": the_step.inputs[v], **r.to_json()} for v, r in inputs.items()}
    ctx = KeyContext(prep.package_dir, prep.workdir, FileHasher(None))
    comps = key_components(pipeline.name, the_step, ctx, prep.values, inputs, prep.secret)
    key = cache_key(comps)
    record["cache_key"] = key
    entry = st.get_entry(pipeline.name, step, key) if cache else None
    refs = valid_refs(st, the_step, entry) if entry else None
    if refs is not None and entry is not None:
        return _cached(st, record, refs, entry)

    outcome = _run_here(prep, st, inputs, rid, step)
    record.update(
        status=outcome.status,
        start=iso(outcome.start),
        end=iso(outcome.end),
        duration=round(outcome.end - outcome.start, 6),
        log=f"logs/{step}.log",
        figures=outcome.figures,
        warnings=record["warnings"] + [redact(w, prep.hidden) for w in outcome.warnings],
    )
    if outcome.status != "ok" or outcome.error is not None:
        _fail(prep, st, record, outcome)
    outputs = {k: r.to_json() for k, r in outcome.outputs.items()}
    record.update(outputs=outputs, metrics=jsonable(outcome.metrics))
    # Manifests last: every artifact they name is in place by now.
    st.put_entry(
        pipeline.name,
        step,
        key,
        {
            "outputs": outputs,
            "metrics": record["metrics"],
            "run_id": rid,
            "created": record["end"],
            "duration": record["duration"],
            "components": comps,
        },
    )
    st.write_json(f"{base}/steps/{step}.json", record)
    print(f"[nb2pipe] {step} ok in {record['duration']:.2f}s", file=sys.stderr)
    return _result(record)


def _cached(
    st: Any, record: dict[str, Any], refs: dict[str, Any], entry: dict[str, Any]
) -> dict[str, Any]:
    """The step's outputs are in the cache: record it so and return its result."""
    now = iso(time.time())
    record.update(
        status="cached",
        start=now,
        end=now,
        duration=0.0,
        cached_from=entry.get("run_id"),
        outputs={k: r.to_json() for k, r in refs.items()},
        metrics=entry.get("metrics") or {},
    )
    st.write_json(f"runs/{record['run_id']}/steps/{record['step']}.json", record)
    print(f"[nb2pipe] {record['step']} cached (from run {entry.get('run_id')})", file=sys.stderr)
    return _result(record)


def _run_here(prep: Any, st: Any, inputs: dict[str, Any], rid: str, step: str) -> Any:
    """Execute the step: in the store's run folder when the store is local, else in a
    scratch folder whose log and figures are copied to the store."""
    if isinstance(st, LocalStore):
        st.root.mkdir(parents=True, exist_ok=True)
        st.mark()
        return _execute(prep, st, inputs, st.root / "runs" / rid)
    st.mark()
    with tempfile.TemporaryDirectory(prefix="nb2pipe-run-") as tmp:
        run_dir = Path(tmp)
        outcome = _execute(prep, st, inputs, run_dir)
        for rel in [f"logs/{step}.log", *outcome.figures]:
            try:
                st.write_bytes(f"runs/{rid}/{rel}", (run_dir / rel).read_bytes())
            except OSError:
                pass
    return outcome


def _fail(prep: Any, st: Any, record: dict[str, Any], outcome: Any) -> None:
    """Record the step's failure in the store and raise StepFailed."""
    step, err = record["step"], outcome.error
    kind = err.kind if err else "exception"
    message = redact(err.message if err else f"step {step!r} failed", prep.hidden)
    record["error"] = {
        "kind": kind,
        "message": message,
        "type": err.exc_type if err else "",
        "cell": err.cell if err else None,
        "line": err.line if err else None,
    }
    st.write_json(f"runs/{record['run_id']}/steps/{step}.json", record)
    if err is not None and err.traceback:
        print(redact(err.traceback.rstrip(), prep.hidden), file=sys.stderr)
    raise StepFailed(message, kind, record)


def _result(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("pipeline", "step", "run_id", "status", "outputs", "metrics", "cache_key")
    return {k: record.get(k) for k in keys}


# --- Kubeflow Pipelines -----------------------------------------------------------------

_MAGIC = ((b"PAR1", "parquet"), (b"\x93NUMPY", "npy"), (b"ARROW1", "arrow"))


def _sniff(data: bytes) -> str:
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    return "joblib" if data[:1] == b"\x80" else "json"


def run_kfp_step(
    package: str,
    step: str,
    *,
    package_path: str | os.PathLike[str] | None = None,
    params: Mapping[str, Any] | None = None,
    param_text: Mapping[str, str] | None = None,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    metrics: Any = None,
    guard: bool = True,
    allow_mutation: bool = False,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run ``step`` inside a KFP component: ``inputs``/``outputs`` map variable names to
    KFP artifacts (``Input[Dataset]``, ``Output[Model]``, ...), whose files hold the values
    in nb2pipe's formats (format, digest and size in the artifact's metadata); ``metrics``
    is an ``Output[Metrics]`` that gets the step's numeric metrics (``log_metric``).
    ``param_text``: values given as text, parsed by the parameters' types as ``-p`` does
    (KFP carries neither None nor integers inside lists). ``timeout``: seconds the step may
    run (the export's ``--timeout``; the step's own ``timeout=S`` option wins): KFP's DSL
    has no task timeout, so the runtime stops the step (``timed_out``)."""
    pipeline = load_pipeline(package, package_path)
    prep = _prepare(
        pipeline, step, params, None, param_text, guard=guard, allow_mutation=allow_mutation,
        verbose=True, timeout=timeout,
    )  # fmt: skip
    for note in prep.notes:
        print(f"[nb2pipe] warning: {note}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="nb2pipe-kfp-") as tmp:
        store = LocalStore(Path(tmp) / "store")
        refs: dict[str, ArtifactRef] = {}
        for var, art in (inputs or {}).items():
            data = Path(art.path).read_bytes()
            meta = dict(getattr(art, "metadata", None) or {})
            fmt = str(meta.get("nb2pipe_format") or _sniff(data))
            ref = store.save_bytes(fmt, data)
            expected = meta.get("digest") or meta.get("sha256")  # (sha256: before v2)
            if expected and expected != ref.hash:
                raise StepFailed(
                    f"step {step!r}: input {var!r} ({art.path}) does not match its digest "
                    f"({ref.hash[:12]}..., expected {str(expected)[:12]}...)",
                    "artifact",
                )
            refs[var] = ref
        outcome = _execute(prep, store, refs, Path(tmp) / "run")
        if outcome.status != "ok" or outcome.error is not None:
            err = outcome.error
            if err is not None and err.traceback:
                print(redact(err.traceback.rstrip(), prep.hidden), file=sys.stderr)
            message = redact(err.message if err else f"step {step!r} failed", prep.hidden)
            raise StepFailed(message, err.kind if err else "exception")
        for var, art in (outputs or {}).items():
            ref = outcome.outputs[var]
            Path(art.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(store.path(ref), art.path)
            art.metadata.update(nb2pipe_format=ref.format, digest=ref.hash, size=ref.size)
    values = jsonable(outcome.metrics)
    if metrics is not None:
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics.log_metric(name, value)
            else:
                metrics.metadata[name] = value
    print(f"[nb2pipe] {step} ok in {outcome.end - outcome.start:.2f}s", file=sys.stderr)
    return {
        "step": step,
        "status": "ok",
        "outputs": {k: r.to_json() for k, r in outcome.outputs.items()},
        "metrics": values,
    }
