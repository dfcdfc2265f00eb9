"""``verify``: run the pipeline and the notebook with the same parameters and compare
every step's outputs.

Order: the pipeline runs first (in this process, with the runtime, its own runs folder
in a scratch directory, working directory as the runtime decides: the notebook's
folder), then the instrumented copy of the notebook (papermill, a ``python3`` kernel of
this interpreter, the notebook's folder). Running the pipeline first means a step that
reads a file another step should have written fails instead of finding the notebook's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from nb2pipe.runtime.randomstate import RANDOM_STATE
from nb2pipe.verify.compare import Comparer, Tolerance
from nb2pipe.verify.kernel import NotebookRun, VerifyError
from nb2pipe.verify.result import Row, VerifyResult


def verify(
    notebook: str | Path,
    pipeline_dir: str | Path | None = None,
    params: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    *,
    param_args: Sequence[str] = (),
    tolerance: Tolerance | None = None,
    split_on: str | None = None,
    keep: bool = False,
    runs_dir: str | Path | None = None,
    run_options: Mapping[str, Any] | None = None,
) -> VerifyResult:
    """Verify that the pipeline computes what the notebook computes.

    ``pipeline_dir``: an existing generated package (default: convert now, into a
    scratch folder). ``params``: parameter values as Python values; ``param_args``:
    ``NAME=VALUE`` strings parsed by the parameters' types, as ``-p`` does. ``timeout``:
    seconds a notebook cell may run. ``keep``: keep the scratch folder (its path is in
    ``result.kept``). ``runs_dir``: where the pipeline's runs and store go (default: the
    scratch folder), so a second verify can resume from the first one's cache;
    ``run_options``: more keywords for the runner (``jobs``, ``only``, ``from_step``,
    ``force``, ...). Raises an ``Nb2pipeError`` (exit code 2) for bad input: a notebook
    that cannot be read or converted, unknown parameters, no usable kernel.
    """
    from nb2pipe import compiler

    started = time.perf_counter()
    nb_path = Path(notebook)
    layout = compiler.front(nb_path, split_on=split_on)
    model = layout.notebook
    scratch = Path(tempfile.mkdtemp(prefix="nb2pipe-verify-"))
    result = VerifyResult(str(notebook), str(pipeline_dir) if pipeline_dir else None)
    try:
        if pipeline_dir is None:
            from nb2pipe.codegen import package as codegen

            t = time.perf_counter()
            package = scratch / f"nb2pipe_verify_{uuid.uuid4().hex[:12]}"
            pipe = compiler.compile(layout).pipeline
            with _env(RUFF_CACHE_DIR=str(scratch / "ruff_cache")):  # not in the user's cwd
                codegen.write(pipe, package)
            result.seconds["convert"] = time.perf_counter() - t
            result.notes.extend(str(d) for d in pipe.diagnostics if d.severity == "warning")
        else:
            package = Path(pipeline_dir)
        with _loaded(package) as spec:
            from nb2pipe.codegen.package import notebook_hash

            if spec.notebook_sha256 and spec.notebook_sha256 != notebook_hash(model):
                result.notes.append(
                    "the package was generated from another version of the notebook "
                    "(run `nb2pipe convert` again)"
                )
            runner = {"runs_dir": Path(runs_dir or scratch / "runs"), **(run_options or {})}
            _run_both(result, spec, layout, nb_path, scratch, params, param_args, timeout,
                      tolerance or Tolerance(), runner)  # fmt: skip
    finally:
        if keep:
            result.kept = str(scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    result.seconds["total"] = time.perf_counter() - started
    return result


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _loaded(folder: Path) -> Iterator[Any]:
    """Import the package's PIPELINE; forget its modules afterwards, so another package
    of the same name can be verified in this process."""
    from nb2pipe import api

    path_before = list(sys.path)
    modules_before = set(sys.modules)
    spec = api.load_package(folder)
    try:
        yield spec
    finally:
        top = spec.package.split(".")[0]
        for name in set(sys.modules) - modules_before:
            if name == top or name.startswith(top + "."):
                del sys.modules[name]
        added = [p for p in sys.path if p not in path_before]
        for p in added:
            sys.path.remove(p)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and repr(a) == repr(b)


def _run_both(
    result: VerifyResult,
    spec: Any,
    layout: Any,
    nb_path: Path,
    scratch: Path,
    params: Mapping[str, Any] | None,
    param_args: Sequence[str],
    timeout: float | None,
    tol: Tolerance,
    runner: dict[str, Any],
) -> None:
    from nb2pipe.runtime import UsageError
    from nb2pipe.runtime import run as run_pipeline
    from nb2pipe.runtime.options import resolve_params
    from nb2pipe.verify import instrument, kernel

    try:
        resolved = resolve_params(spec, overrides=params, param_args=param_args)
    except UsageError as exc:
        raise VerifyError(str(exc)) from None
    pmap = spec.param_map
    read = {p for s in spec.steps for p in s.params}
    for p in spec.parameters:
        if p.secret and p.name in read and p.env and p.env not in os.environ:
            # The package holds no default for a secret: the pipeline would see None where
            # the notebook sees its literal, and the comparison would only say so later.
            raise VerifyError(
                f"secret parameter {p.name!r} is read from the environment variable "
                f"{p.env}, which is not set",
                hint=f"set {p.env} so the notebook and the pipeline use the same value",
            )
    overrides = {n: v for n, v in resolved.values.items() if not _same(v, pmap[n].default)}
    result.parameters = {n: ("***" if n in resolved.secret else v) for n, v in overrides.items()}

    # the instrumented copy first: it may refuse a parameter value
    capture_dir = scratch / "captured"
    plans = [
        instrument.StepPlan(s.name, max(s.cells), tuple(s.outputs)) for s in spec.steps if s.cells
    ]
    try:
        built = instrument.build(
            layout, plans, str(capture_dir), overrides=overrides,
            param_names=[p.name for p in spec.parameters], derived=spec.derived,
        )  # fmt: skip
    except ValueError as exc:
        raise VerifyError(str(exc), file=result.notebook) from None
    result.notes.extend(built.notes)

    # the pipeline
    t = time.perf_counter()
    try:
        run = run_pipeline(spec, params=dict(params or {}), param_args=list(param_args),
                           quiet=True, progress="none", **runner)  # fmt: skip
    except UsageError as exc:
        raise VerifyError(str(exc)) from None
    result.seconds["pipeline"] = time.perf_counter() - t
    if not run.ok:
        result.pipeline_error = run.error or run.status

    # the notebook
    nb_run = kernel.execute(
        built.notebook, nb_path.resolve().parent, scratch,
        parameters=built.papermill_parameters, timeout=timeout,
    )  # fmt: skip
    result.seconds["notebook"] = nb_run.seconds
    if nb_run.error is not None:
        where = f"cell {nb_run.cell}: " if nb_run.cell else ""
        step = built.cell_of_step.get(nb_run.cell or 0)
        result.notebook_error = (f"step {step!r}, " if step else "") + where + nb_run.error

    # compare
    t = time.perf_counter()
    nb_value = _reader(capture_dir)
    for step in spec.steps:
        result.rows.extend(_compare_step(step, run, nb_run, capture_dir, nb_value, tol, built))
    result.seconds["compare"] = time.perf_counter() - t
    if any(r.verdict == "mismatch" for r in result.rows):
        # Different values: run the notebook again, to tell its own randomness apart.
        from nb2pipe.verify import rerun

        t = time.perf_counter()
        again_dir = scratch / "captured-again"
        again = instrument.build(
            layout, plans, str(again_dir), overrides=overrides,
            param_names=[p.name for p in spec.parameters], derived=spec.derived,
        )  # fmt: skip
        kernel.execute(
            again.notebook, nb_path.resolve().parent, scratch,
            parameters=again.papermill_parameters, timeout=timeout,
        )  # fmt: skip
        cells = {s.name: tuple(s.cells) for s in spec.steps}
        result.rows = rerun.reconcile(result.rows, nb_value, _reader(again_dir), tol, cells,
                                      lambda: rerun.unseeded_cells(layout))  # fmt: skip
        result.seconds["notebook again"] = time.perf_counter() - t


def _reader(capture_dir: Path) -> Callable[[str, str], Any]:
    """(step, variable) -> the notebook's value captured where the step ended."""
    from nb2pipe.verify import capture

    cache: dict[tuple[str, str], Any] = {}

    def nb_value(step: str, var: str) -> Any:
        key = (step, var)
        if key not in cache:
            entry = (capture.load_manifest(str(capture_dir), step) or {}).get(var)
            if not entry or entry.get("status") != "ok":
                raise KeyError(var)
            cache[key] = capture.load_value(str(capture_dir), step, entry)
        return cache[key]

    return nb_value


def _compare_step(
    step: Any,
    run: Any,
    nb_run: NotebookRun,
    capture_dir: Path,
    nb_value: Callable[[str, str], Any],
    tol: Tolerance,
    built: Any,
) -> list[Row]:
    from nb2pipe.verify import capture

    name = step.name
    record = run.steps.get(name) or {}
    status = record.get("status")
    manifest = capture.load_manifest(str(capture_dir), name) if step.cells else None
    nb_failed_here = nb_run.cell is not None and built.cell_of_step.get(nb_run.cell) == name
    if status == "skipped" and record.get("reason") == "not selected":
        return [Row(name, "", "skipped", "", "not selected in this run")]
    if status not in ("ok", "cached"):
        message = (record.get("error") or {}).get("message") or record.get("reason") or status
        if nb_failed_here:
            message = f"{message}; the notebook failed in this step too"
        return [Row(name, "", "failed", "", f"pipeline: {message}")]
    if manifest is None:
        if nb_failed_here:
            detail = f"the notebook failed in this step: {nb_run.error}"
        elif nb_run.error is not None:
            detail = "the notebook stopped before this step ended"
        else:
            detail = "the notebook never reached the end of this step"
        return [Row(name, "", "not run", "", detail)]
    if not step.outputs:
        what = "gate held in both" if step.kind == "gate" else "ran in both (no outputs)"
        return [Row(name, "", "ok", "ran", what)]

    def data() -> list[tuple[str, Any]]:
        found = []
        for var in (*step.outputs, *step.inputs):
            producer = name if var in step.outputs else step.inputs[var]
            try:
                found.append((var, nb_value(producer, var)))
            except (KeyError, Exception):  # noqa: BLE001 - not available: not a candidate
                continue
        return found

    rows = []

    def failed(var: str, what: str, exc: BaseException | None = None) -> None:
        detail = f"{what}: {type(exc).__name__}: {exc}" if exc is not None else what
        rows.append(Row(name, var, "failed", "", detail))

    for var in step.outputs:
        entry = manifest.get(var) or {"status": "undefined"}
        if entry["status"] == "undefined":
            rows.append(
                Row(name, var, "missing", "", "not defined in the notebook where the step ends")
            )
            continue
        if entry["status"] != "ok":
            failed(var, f"the notebook's value cannot be saved: {entry.get('error')}")
            continue
        try:
            left = nb_value(name, var)
        except Exception as exc:  # noqa: BLE001
            failed(var, "cannot read the notebook's value", exc)
            continue
        try:
            right = run.load(name, var)
        except KeyError:
            rows.append(Row(name, var, "missing", "", "the pipeline has no such output"))
            continue
        except Exception as exc:  # noqa: BLE001
            failed(var, "cannot read the pipeline's value", exc)
            continue
        if var == RANDOM_STATE and isinstance(left, dict) and isinstance(right, dict):
            left = {k: v for k, v in left.items() if k in right}  # the streams it carries
        outcome = Comparer(tol, data).compare(left, right)
        how = "random state" if var == RANDOM_STATE else outcome.how
        verdict = "skipped" if outcome.skipped else "ok" if outcome.ok else "mismatch"
        rows.append(Row(name, var, verdict, how, outcome.detail))
    return rows
