"""``nb2pipe export airflow DIR``: an Airflow DAG file (TaskFlow API, Airflow 3; 2.10 too).

One task per step, each calling :func:`nb2pipe.runtime.remote.run_step` on the worker, with
artifacts in a store every worker reaches; pipeline parameters become typed DAG params
(``Param`` with a JSON-schema type); a failing gate fails its task without retries and its
downstream tasks do not run.
"""

from __future__ import annotations

import graphlib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2pipe.exporters.base import (
    ExportContext,
    Exporter,
    ExportError,
    ExportResult,
    Option,
    ascii_id,
    check_python,
    inert,
    render_template,
    ruff_format,
    shown,
)
from nb2pipe.runtime.project import find_root, runs_location

_JSON_TYPES = {
    int: "integer",
    float: "number",
    bool: "boolean",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
}
_RESERVED = {"_nb2pipe_step"}
_CRON = re.compile(r"^(@[a-z]+|[0-9A-Za-z*/,?#LW-]+( [0-9A-Za-z*/,?#LW-]+){4,5})$")


def _json_value(value: Any) -> bool:
    """Does the value survive JSON (Airflow stores params as JSON)?"""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_json_value(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def param_schema(param: Any) -> dict[str, Any]:
    """The keyword arguments of ``Param`` after the default: JSON-schema type, description."""
    schema: dict[str, Any] = {}
    base = _JSON_TYPES.get(param.type)
    if base is not None:
        schema["type"] = ["null", base] if param.optional else base
    if param.help:
        schema["description"] = inert(param.help)
    return schema


def project_root(ctx: ExportContext) -> Path:
    """The project the package belongs to (nb2pipe.runtime.project), else the folder the
    package is imported from: the DAG's paths are relative to it."""
    return find_root(ctx.package_dir) or ctx.package_root


def _in_project(path: Path, root: Path, what: str, notes: list[str]) -> str:
    """A path the workers use: relative to the project root when inside it, else absolute
    (a shared mount every worker has), with a note."""
    full = path.resolve()
    try:
        return full.relative_to(root).as_posix() or "."
    except ValueError:
        notes.append(f"{what} {full} is outside the project {root}: the workers need it there")
        return str(full)


def topological(steps: Any) -> list[Any]:
    by_name = {s.name: s for s in steps}
    order = {s.name: i for i, s in enumerate(steps)}
    sorter = graphlib.TopologicalSorter({s.name: set(s.upstream) for s in steps})
    sorter.prepare()
    out: list[Any] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=order.__getitem__)
        out.extend(by_name[n] for n in ready)
        sorter.done(*ready)
    return out


class AirflowExporter(Exporter):
    name = "airflow"
    summary = "an Airflow DAG file: one TaskFlow task per step, artifacts in a shared store"
    options = (
        Option(
            "store",
            "artifact store every worker reaches: a path (inside the project: relative to its "
            "root) or an fsspec URL (s3://bucket/prefix); default: the project's runs/store",
        ),
        Option("schedule", "cron expression or preset such as @daily (default: none, manual)"),
        Option("retries", "retries of a failing task (gates never retry; default 0)", int, 0),
        Option(
            "package_path",
            "folder the workers import the package from (default: where it is in the project)",
        ),
        Option("dag_id", "the DAG's id (default: the pipeline's name)"),
        Option("cache", "reuse the results of unchanged steps from the store", bool, True),
    )

    def default_output(self, ctx: ExportContext, options: Mapping[str, Any]) -> Path:
        return Path(f"{ctx.pipeline.name}_dag.py")

    def render(self, ctx: ExportContext, output: Path, options: Mapping[str, Any]) -> ExportResult:
        pipeline = ctx.pipeline
        notes: list[str] = []
        root = project_root(ctx)
        store = options["store"] or str(
            runs_location(start=ctx.package_dir, fallback=root).path / "store"
        )
        if "://" not in store:
            store = _in_project(Path(store), root, "--store", notes)
        elif not store.startswith("file://"):
            notes.append(
                f"the workers need fsspec and the filesystem's package for {store} "
                "(pip install 'nb2pipe[remote]' s3fs, or gcsfs, adlfs, ...)"
            )
        schedule = options["schedule"]
        if schedule is not None and not _CRON.fullmatch(schedule.strip()):
            raise ExportError(
                f"--schedule {schedule!r} is not a cron expression (5 fields) or a preset "
                "such as @daily"
            )
        schedule = schedule.strip() if schedule else None
        retries = options["retries"]
        if retries < 0:
            raise ExportError("--retries must be >= 0")
        package_path = _in_project(
            Path(options["package_path"] or ctx.package_root), root, "package_path", notes
        )
        from_dag = Path(os.path.relpath(root, output.resolve().parent)).as_posix()
        taken: set[str] = set()
        dag_id = ascii_id(options["dag_id"] or pipeline.name)
        if options["dag_id"] and dag_id != options["dag_id"]:
            raise ExportError(
                f"--dag-id {options['dag_id']!r}: use ASCII letters, digits, '_', '.', '-'"
            )

        params, names, secrets = [], [], []
        for p in pipeline.parameters:
            if p.secret:
                secrets.append(p.env or p.name)
                continue
            if not _json_value(p.default):
                notes.append(
                    f"parameter {p.name!r}: its default {p.default!r} is not a JSON value, so it "
                    "is not a DAG param; tasks use the package's default"
                )
                continue
            params.append({"name": p.name, "default": _plain(p.default), "schema": param_schema(p)})
            names.append(p.name)
        if secrets:
            notes.append(
                "secret parameters are read from the workers' environment: " + ", ".join(secrets)
            )

        steps = []
        used: set[str] = set()
        for s in topological(pipeline.steps):
            if s.name in _RESERVED:
                raise ExportError(f"a step named {s.name!r} clashes with the DAG file's helper")
            upstream = list(s.upstream)
            used.update(upstream)
            steps.append(
                {
                    "name": s.name,
                    "task_id": ascii_id(s.name, taken),
                    "function": f"t_{s.name}",
                    "result": f"r_{s.name}",
                    "upstream": upstream,
                    "upstream_results": [f"r_{u}" for u in upstream],
                    "doc": inert(s.doc or f"Step {s.name} of the notebook."),
                }
            )
        for s in steps:  # names made of validated identifiers only
            call = f"{s['function']}({', '.join(s['upstream_results'])})"
            s["call"] = f"{s['result']} = {call}" if s["name"] in used else call
        for s in pipeline.steps:
            if s.files:
                notes.append(
                    f"step {s.name!r} reads {', '.join(s.files)} relative to the notebook's "
                    "folder: the workers need them at the same place"
                )
        nb = ctx.notebook
        text = render_template(
            "exporters/airflow_dag.py.j2",
            source=shown(ctx.package_dir),
            pipeline_name=pipeline.name,
            package=ctx.package,
            package_path=package_path,
            store=store,
            root_from_dag=from_dag,
            cache=bool(options["cache"]),
            param_names=tuple(names),
            secrets=secrets,
            dag_id=dag_id,
            dag_function=f"dag_{re.sub(r'[^0-9A-Za-z_]', '_', dag_id)}",
            schedule=schedule,
            retries=retries,
            doc_md=inert(
                f"Pipeline `{pipeline.name}`, generated by nb2pipe from "
                f"`{nb.name if nb else ctx.package}`. One task per step; artifacts in "
                f"`{store}`."
            ),
            params=params,
            steps=steps,
        )
        check_python(text, output.name)
        text = ruff_format(text, output.name)
        check_python(text, output.name)
        return ExportResult({output: text}, notes)

    def finish(
        self, ctx: ExportContext, output: Path, options: Mapping[str, Any], result: ExportResult
    ) -> list[str]:
        return [
            f"copy {shown(output)} into the DAGs folder; test it with "
            f"`airflow dags test {ascii_id(options['dag_id'] or ctx.pipeline.name)}`"
        ]
