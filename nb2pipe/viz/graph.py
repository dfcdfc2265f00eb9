"""One DAG, from a notebook (compiled, then mapped to the runtime spec) or a generated
package (its runtime spec), optionally coloured by a run, rendered as self-contained HTML,
Mermaid or DOT.

The DAG model is the runtime's (``nb2pipe.runtime.spec.Pipeline``, its ``edges``): a
notebook's compiler model goes through ``nb2pipe.codegen.spec.to_spec``, the same mapping
the generated ``pipeline.py`` writes out, so the two views cannot drift apart. A
:class:`DagView` only adds where it was read from, the diagnostics and a run's states.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nb2pipe.codegen.mermaid import StepState
from nb2pipe.errors import Nb2pipeError
from nb2pipe.runtime.spec import Edge, Param, Pipeline, Step

STATUSES = ("ok", "cached", "failed", "skipped", "running", "pending")
FORMATS = {".html": "html", ".htm": "html", ".mmd": "mermaid", ".mermaid": "mermaid",
           ".dot": "dot", ".gv": "dot"}  # fmt: skip


class VizError(Nb2pipeError):
    """Bad input to graph/report/tag: unknown format, missing run, unreadable record."""


@dataclass(frozen=True)
class DagView:
    """A runtime Pipeline as drawn: where it comes from, its diagnostics, a run's states."""

    pipeline: Pipeline
    source: str = ""  # the notebook or package it was read from
    diagnostics: tuple[str, ...] = ()
    run: Mapping[str, Any] | None = field(default=None, compare=False)  # the run.json, if any
    states: Mapping[str, StepState] = field(default_factory=dict)  # step -> state in the run

    @property
    def name(self) -> str:
        return self.pipeline.name

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.pipeline.steps

    @property
    def edges(self) -> tuple[Edge, ...]:
        return self.pipeline.edges

    @property
    def parameters(self) -> tuple[dict[str, Any], ...]:
        """Rows of the parameters table: name, type and default as text, help, secret."""
        return tuple(_param_row(p) for p in self.pipeline.parameters)

    def state(self, name: str) -> StepState | None:
        return self.states.get(name)


def _type_name(t: Any) -> str:
    if t is None:
        return "Any"
    return str(getattr(t, "__name__", t))


def _param_row(p: Param) -> dict[str, Any]:
    ptype = _type_name(p.type) + (" | None" if p.optional and p.type is not None else "")
    default = f"env {p.env}" if p.secret else repr(p.default)
    return {"name": p.name, "type": ptype, "default": default, "help": p.help or "",
            "secret": bool(p.secret)}  # fmt: skip


def from_pipeline(pipe: Any, source: str = "") -> DagView:
    """The view of a runtime Pipeline, or of a compiler model Pipeline (mapped to the
    runtime's by nb2pipe.codegen.spec, with its diagnostics)."""
    if isinstance(pipe, Pipeline):
        return DagView(pipe, source)
    from nb2pipe.codegen.spec import to_spec

    diags = tuple(str(d) for d in pipe.diagnostics)
    return DagView(to_spec(pipe), source, diags)


def load(target: str | os.PathLike[str], split_on: str | None = None) -> DagView:
    """The DAG of a notebook file or of a generated package folder."""
    from nb2pipe import api

    path = Path(target)
    if path.is_dir():
        return from_pipeline(api.load_package(path), str(target))
    return from_pipeline(api.load(path, split_on=split_on), str(target))


def build(
    target: str | os.PathLike[str],
    *,
    run: str | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    split_on: str | None = None,
) -> tuple[DagView, list[str]]:
    """What `nb2pipe graph` draws: the DAG of `target`, coloured by `run` if given."""
    dag = load(target, split_on)
    if run is None:
        return dag, []
    from nb2pipe.mlops.runs import resolve_run

    return with_run(dag, dict(resolve_run(run, runs_dir)[1]))


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def step_note(rec: Mapping[str, Any]) -> str:
    """One line saying why a step of a run ended as it did."""
    error = rec.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return _text(error.get("message"))
    if rec.get("status") == "cached" and rec.get("cached_from"):
        return f"cached from run {_text(rec.get('cached_from'))}"
    return _text(rec.get("reason"))


def with_run(dag: DagView, record: Mapping[str, Any]) -> tuple[DagView, list[str]]:
    """Colour the steps by the run's step statuses; return warnings about mismatches."""
    steps = record.get("steps")
    steps = steps if isinstance(steps, Mapping) else {}
    warnings: list[str] = []
    if record.get("pipeline") not in (None, dag.name):
        warnings.append(
            f"the run is of pipeline {_text(record.get('pipeline'))!r}, not {dag.name!r}"
        )
    names = {s.name for s in dag.steps}
    extra = [s for s in steps if s not in names]
    if extra:
        warnings.append(f"the run has steps not in the pipeline: {', '.join(map(str, extra))}")
    states = {}
    for s in dag.steps:
        rec = steps.get(s.name)
        if not isinstance(rec, Mapping):
            states[s.name] = StepState("not run")
            continue
        status = rec.get("status")
        states[s.name] = StepState(
            status if status in STATUSES else "unknown",
            duration=number(rec.get("duration")),
            note=step_note(rec),
        )
    return replace(dag, run=record, states=states), warnings


def render(dag: DagView, fmt: str) -> str:
    if fmt == "html":
        from nb2pipe.viz.pages import dag_page

        return dag_page(dag)
    from nb2pipe.viz import textfmt

    if fmt == "mermaid":
        return textfmt.mermaid(dag)
    if fmt == "dot":
        return textfmt.dot(dag)
    raise VizError(f"unknown format {fmt!r}", hint="use html, mermaid or dot")


def format_for(output: str | None, fmt: str | None) -> str:
    """The format: given explicitly, else from the output's suffix (default HTML)."""
    if fmt:
        if fmt not in ("html", "mermaid", "dot"):
            raise VizError(f"unknown format {fmt!r}", hint="use html, mermaid or dot")
        return fmt
    if output in (None, "-"):
        return "html"
    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise VizError(
            f"cannot tell the format from {output!r}",
            hint="name the file .html, .mmd or .dot, or pass --format",
        )
    return FORMATS[suffix]


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
