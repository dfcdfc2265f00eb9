"""A DAG laid out for SVG: node boxes with their text lines, edge paths and labels.

Only geometry and plain strings here; the SVG itself is written by the template
``templates/viz/_svg.j2`` with autoescape on, so no text from a notebook or a run is ever
pasted into markup by hand. Text is measured for a monospace font (0.6 em a character).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from nb2pipe.codegen.mermaid import StepState, cells_text, duration_text
from nb2pipe.runtime.spec import Step
from nb2pipe.viz.graph import DagView
from nb2pipe.viz.layout import Point, layout

FONT = 12.0
CHAR = 0.6 * FONT  # monospace advance
LINE = 16.0
PAD_X, PAD_Y = 10.0, 7.0
GATE_INSET = 12.0
WRAP = 34
LABEL_WRAP = 30
MAX_LINES = 4


@dataclass(frozen=True)
class TextLine:
    text: str
    cls: str  # css class: title, meta, params, status


@dataclass(frozen=True)
class NodeView:
    name: str
    kind: str
    status: str  # "none" without a run
    x: float
    y: float
    w: float
    h: float
    lines: tuple[TextLine, ...]
    tooltip: str
    hexagon: str  # polygon points for gates, "" for steps


@dataclass(frozen=True)
class EdgeView:
    src: str
    dst: str
    path: str
    variables: tuple[str, ...]
    label: tuple[str, ...]
    label_x: float
    label_y: float


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    nodes: tuple[NodeView, ...]
    edges: tuple[EdgeView, ...]
    with_run: bool


def text_width(text: str, size: float = FONT) -> float:
    cols = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        cols += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return cols * 0.6 * size


def wrap(items: list[str], width: int, max_lines: int = MAX_LINES, sep: str = ", ") -> list[str]:
    """Join `items` with `sep` into lines of at most `width` characters (an item longer than
    that gets a line of its own); past `max_lines`, the last line says how many are left."""
    groups: list[list[str]] = []
    for item in items:
        if groups and len(sep.join([*groups[-1], item])) <= width:
            groups[-1].append(item)
        else:
            groups.append([item])
    lines = [sep.join(g) for g in groups[:max_lines]]
    hidden = sum(len(g) for g in groups[max_lines:])
    if hidden:
        lines[-1] += f" +{hidden} more"
    return [t + sep.rstrip() if k < len(lines) - 1 else t for k, t in enumerate(lines)]


def node_lines(s: Step, state: StepState | None, with_run: bool) -> list[TextLine]:
    lines = [TextLine(s.name, "title")]
    meta = " · ".join(t for t in ("gate" if s.kind == "gate" else "", cells_text(s.cells)) if t)
    if meta:
        lines.append(TextLine(meta, "meta"))
    if s.params:
        params = wrap(list(s.params), WRAP - 8, 3)
        params[0] = "params: " + params[0]
        lines += [TextLine(t, "params") for t in params]
    if with_run:
        status = state.status if state else "not run"
        dur = duration_text(state.duration) if state and status in ("ok", "failed") else ""
        lines.append(TextLine(f"{status} · {dur}" if dur else status, "status"))
    return lines


def tooltip(s: Step, state: StepState | None) -> str:
    parts = [f"{s.name} ({s.kind})"]
    if s.doc:
        parts.append(s.doc.strip())
    if s.outputs:
        parts.append("outputs: " + ", ".join(s.outputs))
    if s.metrics:
        parts.append("metrics: " + ", ".join(s.metrics))
    if state and state.note:
        parts.append(state.note)
    return "\n".join(parts)


def _hexagon(w: float, h: float) -> str:
    k = GATE_INSET
    pts = [(-w / 2, 0), (-w / 2 + k, -h / 2), (w / 2 - k, -h / 2), (w / 2, 0)]
    pts += [(w / 2 - k, h / 2), (-w / 2 + k, h / 2)]
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def path_d(points: tuple[Point, ...]) -> str:
    """Straight where vertical, else a cubic curve leaving and entering vertically."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        if abs(x1 - x0) < 0.5:
            d.append(f"L{x1:.1f},{y1:.1f}")
        else:
            dy = (y1 - y0) / 2
            d.append(f"C{x0:.1f},{y0 + dy:.1f} {x1:.1f},{y1 - dy:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(d)


def draw(dag: DagView) -> Drawing:
    with_run = dag.run is not None
    sizes: dict[str, tuple[float, float, list[TextLine]]] = {}
    for s in dag.steps:
        lines = node_lines(s, dag.state(s.name), with_run)
        w = max(text_width(t.text, FONT + (1 if t.cls == "title" else 0)) for t in lines)
        w += 2 * PAD_X + (2 * GATE_INSET if s.kind == "gate" else 0)
        sizes[s.name] = (max(w, 80.0), len(lines) * LINE + 2 * PAD_Y, lines)
    edges_of = dag.edges
    labels = {(e.src, e.dst): wrap(list(e.variables), LABEL_WRAP) for e in edges_of}
    lay = layout(
        [(s.name, sizes[s.name][0], sizes[s.name][1]) for s in dag.steps],
        [
            (e.src, e.dst, _label_size(labels[e.src, e.dst]) if e.variables else None)
            for e in edges_of
        ],
    )
    nodes = []
    for s in dag.steps:
        v = lay.nodes[s.name]
        w, h, lines = sizes[s.name]
        state = dag.state(s.name)
        status = (state.status if state else "not run") if with_run else "none"
        hexagon = _hexagon(w, h) if s.kind == "gate" else ""
        nodes.append(
            NodeView(
                s.name, s.kind, status, v.x, v.y, w, h, tuple(lines), tooltip(s, state), hexagon
            )
        )
    by_pair = {(e.src, e.dst): e for e in edges_of}
    edges = []
    for r in lay.routes:
        e = by_pair[r.src, r.dst]
        lx, ly = r.label_at or (0.0, 0.0)
        edges.append(
            EdgeView(
                r.src, r.dst, path_d(r.points), e.variables, tuple(labels[r.src, r.dst]), lx, ly
            )
        )
    return Drawing(lay.width, lay.height, tuple(nodes), tuple(edges), with_run)


def _label_size(lines: list[str]) -> tuple[float, float]:
    return max(text_width(t, FONT - 1) for t in lines), len(lines) * (LINE - 2) + 4
