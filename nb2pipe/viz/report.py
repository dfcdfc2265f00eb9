"""``nb2pipe report RUN``: one self-contained HTML page per run.

The DAG comes from the pipeline package when it can be found (``--pipeline DIR|NOTEBOOK``,
or the run's package folder under the current directory, as ``python -m`` would import it);
otherwise from the run record alone, whose edges are known only for steps that ran.
Everything read from the run is untrusted text: the template escapes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2pipe.codegen.mermaid import StepState, duration_text
from nb2pipe.mlops.runs import command_line
from nb2pipe.runtime.spec import Pipeline, Step
from nb2pipe.viz import graph, runs
from nb2pipe.viz.drawing import draw
from nb2pipe.viz.graph import DagView
from nb2pipe.viz.pages import render

DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_VALUE = 2000


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def shown(value: Any) -> str:
    """A parameter or metric value as one line of JSON (reprs for the rest), bounded."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + " …"


def dag_from_record(record: Mapping[str, Any]) -> DagView:
    """The DAG as far as run.json tells it: steps in order, edges from recorded inputs."""
    steps = []
    for name, rec in _map(record.get("steps")).items():
        rec = _map(rec)
        error = _map(rec.get("error"))
        kind = rec.get("kind") or ("gate" if error.get("kind") == "gate" else "step")
        inputs: dict[str, str] = {}
        for var, info in _map(rec.get("inputs")).items():
            src = _map(info).get("step")
            if isinstance(src, str):
                inputs[str(var)] = src
        after = rec.get("after") or rec.get("upstream") or []
        after = [a for a in after if isinstance(a, str)] if isinstance(after, list) else []
        kind = "gate" if kind == "gate" else "step"
        steps.append(Step(str(name), inputs, after=tuple(after), kind=kind))
    name = str(record.get("pipeline", "pipeline"))
    return DagView(Pipeline(name, "", tuple(steps)), source="run")


def find_pipeline(
    record: Mapping[str, Any], given: str | Path | None
) -> tuple[DagView | None, str]:
    """The run's pipeline from `given`, else from its package folder under the current
    directory; (None, why) when there is none."""
    if given is not None:
        return graph.load(given), f"pipeline {given}"
    package = record.get("package")
    if not isinstance(package, str) or not DOTTED.fullmatch(package):
        return None, "the run names no package"
    folder = Path(*package.split("."))
    if not (folder / "pipeline.py").is_file():
        return None, f"package folder {folder} not found here (pass --pipeline)"
    try:
        dag = graph.load(folder)
    except Exception as exc:  # noqa: BLE001 - fall back to the record, and say why
        return None, f"cannot load {folder}: {' '.join(str(exc).split())[:200]}"
    if dag.name != record.get("pipeline"):
        return None, f"{folder} is pipeline {dag.name!r}, not the run's"
    return dag, f"pipeline {folder}"


def _gate_result(state: StepState | None) -> str:
    return {
        "ok": "passed",
        "cached": "passed (cached)",
        "failed": "failed",
        "skipped": "not checked (skipped)",
    }.get(state.status if state else "", "not checked")


def context(run_dir: Path, record: Mapping[str, Any], pipeline: str | Path | None) -> dict:
    found, why = find_pipeline(record, pipeline)
    dag, warnings = graph.with_run(found or dag_from_record(record), record)
    if found is None:
        warnings.insert(
            0, f"DAG from the run record only ({why}): edges of steps that did not run are unknown"
        )
    steps = _map(record.get("steps"))
    rows = []
    for s in dag.steps:
        rec = _map(steps.get(s.name))
        warn = rec.get("warnings")
        state = dag.state(s.name) or StepState("not run")
        rows.append(
            {
                "step": s,
                "state": state,
                "duration": duration_text(state.duration)
                if state.status in ("ok", "failed")
                else "",
                "warnings": [str(w) for w in warn] if isinstance(warn, list) else [],
                "log": runs.log_tail(run_dir, rec.get("log") or f"logs/{s.name}.log"),
                "metrics": [(str(k), shown(v)) for k, v in _map(rec.get("metrics")).items()],
            }
        )
    versions = _map(record.get("versions"))
    return {
        "dag": dag,
        "drawing": draw(dag),
        "dag_source": why if found is not None else "the run record",
        "warnings": warnings,
        "run": {
            k: "" if record.get(k) is None else str(record.get(k))
            for k in (
                "run_id",
                "pipeline",
                "status",
                "start",
                "end",
                "host",
                "notebook",
                "generated_by",
                "workdir",
                "error",
            )  # fmt: skip
        },
        "duration": duration_text(graph.number(record.get("duration"))),
        "command": command_line(dict(record)),
        "rows": rows,
        "gates": [
            (s, dag.state(s.name) or StepState("not run"), _gate_result(dag.state(s.name)))
            for s in dag.steps
            if s.kind == "gate"
        ],
        "parameters": [(str(k), shown(v)) for k, v in _map(record.get("parameters")).items()],
        "secrets": [str(s) for s in record.get("secret_parameters") or []],
        "derived": [(str(k), shown(v)) for k, v in _map(record.get("derived")).items()],
        "metrics": [(str(k), shown(v)) for k, v in _map(record.get("metrics")).items()],
        "figures": runs.figures(run_dir, steps),
        "versions": [(str(k), str(v)) for k, v in versions.items() if not isinstance(v, Mapping)],
        "distributions": [(str(k), str(v)) for k, v in _map(versions.get("distributions")).items()],
    }


def report(
    run: str,
    *,
    runs_dir: str | Path | None = None,
    pipeline: str | Path | None = None,
) -> tuple[str, Path, list[str]]:
    """The report page of a run: (html, run folder, warnings)."""
    from nb2pipe.mlops.runs import resolve_run

    run_dir, record = resolve_run(run, runs_dir)
    ctx = context(run_dir, record, pipeline)
    return render("report.html.j2", **ctx), run_dir, list(ctx["warnings"])
