"""One DAG description, from a notebook (compiler model) or a generated package (runtime spec),
optionally coloured by a run, rendered as self-contained HTML, Mermaid or DOT.

Both pipeline classes (``nb2pipe.model.Pipeline`` and ``nb2pipe.runtime.spec.Pipeline``) have
steps with ``name, kind, inputs (variable -> producer), outputs, params, after, cells, doc``;
:func:`from_pipeline` reads just those, so the two views can never drift apart.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nb2pipe.errors import Nb2pipeError

STATUSES = ("ok", "cached", "failed", "timed_out", "out_of_memory", "skipped", "running", "pending")
FORMATS = {".html": "html", ".htm": "html", ".mmd": "mermaid", ".mermaid": "mermaid",
           ".dot": "dot", ".gv": "dot"}  # fmt: skip


class VizError(Nb2pipeError):
    """Bad input to graph/report/tag: unknown format, missing run, unreadable record."""


@dataclass(frozen=True)
class Node:
    name: str
    kind: str = "step"  # "step" or "gate"
    params: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    cells: tuple[int, ...] = ()
    doc: str = ""
    status: str | None = None  # set from a run: one of STATUSES, or "not run"
    duration: float | None = None
    note: str = ""  # from a run: the error, the reason it was skipped, where it was cached from


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    variables: tuple[str, ...] = ()  # () for an ordering edge (after: tags, gates)


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str  # shown as text; a secret shows where it is read from
    help: str = ""
    secret: bool = False


@dataclass(frozen=True)
class Dag:
    name: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    parameters: tuple[Param, ...] = ()
    source: str = ""  # the notebook or package it was read from
    diagnostics: tuple[str, ...] = ()
    run: Mapping[str, Any] | None = field(default=None, compare=False)  # the run.json, if any

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


def _type_name(t: Any) -> str:
    if t is None:
        return "Any"
    return str(getattr(t, "__name__", t))


def _param(p: Any) -> Param:
    ptype = _type_name(p.type) + (" | None" if p.optional and p.type not in (None, "Any") else "")
    default = f"env {p.env}" if p.secret else repr(p.default)
    return Param(p.name, ptype, default, p.help or "", bool(p.secret))


def edges_of(steps: Any) -> tuple[Edge, ...]:
    """Data edges grouped by producer (in first-read order), then ordering-only edges."""
    out: list[Edge] = []
    for s in steps:
        by_src: dict[str, list[str]] = {}
        for var, src in s.inputs.items():
            by_src.setdefault(src, []).append(var)
        out += [Edge(src, s.name, tuple(names)) for src, names in by_src.items()]
        out += [Edge(a, s.name) for a in dict.fromkeys(s.after) if a not in by_src]
    return tuple(out)


def from_pipeline(pipe: Any, source: str = "") -> Dag:
    """A Dag from a compiler model Pipeline or a runtime Pipeline (duck-typed)."""
    nodes = tuple(
        Node(
            name=s.name,
            kind="gate" if s.kind == "gate" else "step",
            params=tuple(s.params),
            outputs=tuple(s.outputs),
            metrics=tuple(s.metrics),
            cells=tuple(s.cells),
            doc=s.doc or "",
        )
        for s in pipe.steps
    )
    diags = tuple(str(d) for d in getattr(pipe, "diagnostics", ()))
    params = tuple(_param(p) for p in pipe.parameters)
    return Dag(pipe.name, nodes, edges_of(pipe.steps), params, source, diags)


def load(target: str | os.PathLike[str], split_on: str | None = None) -> Dag:
    """The Dag of a notebook file or of a generated package folder."""
    from nb2pipe import api

    path = Path(target)
    if path.is_dir():
        return from_pipeline(api.load_package(path), str(target))
    return from_pipeline(api.load(path, split_on=split_on), str(target))


def build(
    target: str | os.PathLike[str],
    *,
    run: str | None = None,
    runs_dir: str | os.PathLike[str] = "runs",
    split_on: str | None = None,
) -> tuple[Dag, list[str]]:
    """What `nb2pipe graph` draws: the Dag of `target`, coloured by `run` if given."""
    dag = load(target, split_on)
    if run is None:
        return dag, []
    from nb2pipe.viz import runs

    return with_run(dag, runs.load_record(runs.resolve(run, runs_dir)))


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


def with_run(dag: Dag, record: Mapping[str, Any]) -> tuple[Dag, list[str]]:
    """Colour the nodes by the run's step statuses; return warnings about mismatches."""
    steps = record.get("steps")
    steps = steps if isinstance(steps, Mapping) else {}
    warnings: list[str] = []
    if record.get("pipeline") not in (None, dag.name):
        warnings.append(
            f"the run is of pipeline {_text(record.get('pipeline'))!r}, not {dag.name!r}"
        )
    names = {n.name for n in dag.nodes}
    extra = [s for s in steps if s not in names]
    if extra:
        warnings.append(f"the run has steps not in the pipeline: {', '.join(map(str, extra))}")
    nodes = []
    for n in dag.nodes:
        rec = steps.get(n.name)
        if not isinstance(rec, Mapping):
            nodes.append(replace(n, status="not run"))
            continue
        status = rec.get("status")
        nodes.append(
            replace(
                n,
                status=status if status in STATUSES else "unknown",
                duration=number(rec.get("duration")),
                note=step_note(rec),
            )
        )
    return replace(dag, nodes=tuple(nodes), run=record), warnings


def render(dag: Dag, fmt: str) -> str:
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
