"""Layered (Sugiyama-style) layout of a DAG, drawn top to bottom. Pure geometry, no SVG.

1. Rank: longest path from the sources; a source sits just above its first consumer.
   Nodes go on even layers; the odd layers between them carry the edges.
2. Every edge is cut by one dummy vertex per layer it crosses. An edge's label is its dummy
   on the layer just below the source, so labels take room like nodes and never overlap.
3. Order within layers: barycenter sweeps down and up, keeping the order with the fewest
   crossings, then swaps of neighbours while they remove crossings.
4. x: each vertex is pulled to the weighted mean x of its neighbours, keeping the layer's
   order and minimum gaps (solved exactly per layer by merging blocks, as in isotonic
   regression). Long edges weigh more, so they run straight.
5. y: layers stacked, each as tall as its tallest vertex.
"""

from __future__ import annotations

import graphlib
from collections.abc import Sequence
from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass
class Vertex:
    id: str
    layer: int
    left: float  # extent left of the anchor x
    right: float  # extent right of the anchor x
    height: float
    label: bool = False
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class Route:
    src: str
    dst: str
    points: tuple[Point, ...]
    label_at: Point | None  # top-left corner of the label block


@dataclass
class Layout:
    width: float
    height: float
    nodes: dict[str, Vertex]
    routes: list[Route] = field(default_factory=list)


@dataclass
class _Graph:
    verts: dict[str, Vertex]
    layers: list[list[str]]
    up: dict[str, list[str]]
    down: dict[str, list[str]]
    chains: list[tuple[str, str, list[str]]]  # (src, dst, [src, dummies..., dst])


def ranks(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path ranks; sources move down next to their first consumer. Edges that go
    against the given order are ignored when the graph has a cycle."""
    preds: dict[str, set[str]] = {n: set() for n in names}
    index = {n: i for i, n in enumerate(names)}
    for a, b in edges:
        preds[b].add(a)
    try:
        order = list(graphlib.TopologicalSorter(preds).static_order())
    except graphlib.CycleError:
        order = list(names)
        preds = {n: {p for p in ps if index[p] < index[n]} for n, ps in preds.items()}
    rank: dict[str, int] = {}
    for n in order:
        rank[n] = 1 + max((rank[p] for p in preds[n]), default=-1)
    succs: dict[str, list[str]] = {n: [] for n in names}
    for n, ps in preds.items():
        for p in ps:
            succs[p].append(n)
    for n in names:
        if not preds[n] and succs[n]:
            rank[n] = min(rank[s] for s in succs[n]) - 1
    return rank


def _build(
    nodes: Sequence[tuple[str, float, float]],
    edges: Sequence[tuple[str, str, tuple[float, float] | None]],
) -> _Graph:
    names = [n for n, _, _ in nodes]
    known = set(names)
    kept = [(a, b, lab) for a, b, lab in edges if a in known and b in known and a != b]
    rank = ranks(names, [(a, b) for a, b, _ in kept])
    verts = {n: Vertex(n, 2 * rank[n], w / 2, w / 2, h) for n, w, h in nodes}
    layers: list[list[str]] = [[] for _ in range(2 * max(rank.values(), default=0) + 1)]
    for n in names:
        layers[verts[n].layer].append(n)
    up: dict[str, list[str]] = {n: [] for n in names}
    down: dict[str, list[str]] = {n: [] for n in names}
    chains = []
    for i, (a, b, lab) in enumerate(kept):
        chain = [a]
        for layer in range(verts[a].layer + 1, verts[b].layer):
            vid = f"\0{i}.{layer}"
            first = layer == verts[a].layer + 1 and lab is not None
            if first:
                assert lab is not None
                verts[vid] = Vertex(vid, layer, 4.0, 8.0 + lab[0], lab[1], label=True)
            else:
                verts[vid] = Vertex(vid, layer, 4.0, 4.0, 0.0)
            layers[layer].append(vid)
            chain.append(vid)
            up[vid], down[vid] = [], []
        chain.append(b)
        for u, v in zip(chain, chain[1:], strict=False):
            down[u].append(v)
            up[v].append(u)
        chains.append((a, b, chain))
    return _Graph(verts, layers, up, down, chains)


def _crossings(g: _Graph) -> int:
    total = 0
    for i in range(len(g.layers) - 1):
        pos = {v: k for k, v in enumerate(g.layers[i + 1])}
        pairs = [(k, pos[w]) for k, v in enumerate(g.layers[i]) for w in g.down[v]]
        total += sum(
            1 for j, (a, b) in enumerate(pairs) for c, d in pairs[j + 1 :] if (a - c) * (b - d) < 0
        )
    return total


def _reorder(layer: list[str], ref: list[str], neigh: dict[str, list[str]]) -> list[str]:
    pos = {v: k for k, v in enumerate(ref)}

    def key(item: tuple[int, str]) -> float:
        k, v = item
        near = [pos[u] for u in neigh[v] if u in pos]
        return sum(near) / len(near) if near else k * len(ref) / max(len(layer), 1)

    return [v for _, v in sorted(enumerate(layer), key=key)]


def _pair_crossings(g: _Graph, i: int, u: str, v: str) -> int:
    """Crossings between the edges of u and those of v (u left of v) with both neighbour
    layers of layer i."""
    total = 0
    for k, neigh in ((i - 1, g.up), (i + 1, g.down)):
        if 0 <= k < len(g.layers):
            pos = {w: j for j, w in enumerate(g.layers[k])}
            total += sum(1 for a in neigh[u] for b in neigh[v] if pos[a] > pos[b])
    return total


def _transpose(g: _Graph) -> None:
    """Swap neighbours within a layer while that removes crossings (as Graphviz's dot does)."""
    improved = True
    while improved:
        improved = False
        for i, layer in enumerate(g.layers):
            for j in range(len(layer) - 1):
                u, v = layer[j], layer[j + 1]
                if _pair_crossings(g, i, v, u) < _pair_crossings(g, i, u, v):
                    layer[j], layer[j + 1] = v, u
                    improved = True


def _order(g: _Graph, sweeps: int = 8) -> None:
    for i in range(1, len(g.layers)):  # dummies start under their sources
        g.layers[i] = _reorder(g.layers[i], g.layers[i - 1], g.up)
    best, best_c = [list(ly) for ly in g.layers], _crossings(g)
    for _ in range(sweeps):
        for down in (True, False):
            if best_c == 0:
                break
            if down:
                for i in range(1, len(g.layers)):
                    g.layers[i] = _reorder(g.layers[i], g.layers[i - 1], g.up)
            else:
                for i in range(len(g.layers) - 2, -1, -1):
                    g.layers[i] = _reorder(g.layers[i], g.layers[i + 1], g.down)
            c = _crossings(g)
            if c < best_c:
                best, best_c = [list(ly) for ly in g.layers], c
    g.layers = best
    _transpose(g)


def place(order: list[Vertex], desired: dict[str, float], gap: float) -> None:
    """Set x of a layer's vertices as close as possible (least squares) to `desired`,
    keeping their order and at least `gap` between neighbours' extents."""
    blocks: list[tuple[list[Vertex], list[float], float]] = []
    for v in order:
        blocks.append(([v], [0.0], desired[v.id]))
        while len(blocks) > 1:
            (av, ao, ap), (bv, bo, bp) = blocks[-2], blocks[-1]
            need = ao[-1] + av[-1].right + gap + bv[0].left
            if bp - ap >= need - 1e-9:
                break
            vs, offs = av + bv, ao + [need + o for o in bo]
            p = sum(desired[u.id] - o for u, o in zip(vs, offs, strict=True)) / len(vs)
            blocks[-2:] = [(vs, offs, p)]
    for vs, offs, p in blocks:
        for v, o in zip(vs, offs, strict=True):
            v.x = p + o


def _x(g: _Graph, gap: float, rounds: int = 24) -> None:
    for layer in g.layers:
        x = 0.0
        for vid in layer:
            v = g.verts[vid]
            v.x = x + v.left
            x = v.x + v.right + gap
    for r in range(rounds):
        seq = g.layers if r % 2 == 0 else g.layers[::-1]
        for layer in seq:
            desired = {}
            for vid in layer:
                pulls = []
                for u in g.up[vid] + g.down[vid]:
                    weight = 2.0 if vid.startswith("\0") and u.startswith("\0") else 1.0
                    pulls.append((g.verts[u].x, weight))
                total = sum(w for _, w in pulls)
                cur = g.verts[vid].x
                desired[vid] = sum(x * w for x, w in pulls) / total if total else cur
            place([g.verts[v] for v in layer], desired, gap)


def _y(g: _Graph, margin: float, vgap: float) -> float:
    top = margin
    for layer in g.layers:
        h = max((g.verts[v].height for v in layer), default=0.0)
        for vid in layer:
            g.verts[vid].y = top + h / 2
        top += h + vgap
    return top - vgap + margin


def _ports(g: _Graph, vid: str, others: list[str], width: float) -> dict[str, float]:
    """Spread the ends of several edges along a node's side, ordered by where they go."""
    ordered = sorted(others, key=lambda u: g.verts[u].x)
    step = min(14.0, max(width - 24.0, 0.0) / max(len(ordered), 1))
    mid = (len(ordered) - 1) / 2
    return {u: g.verts[vid].x + (k - mid) * step for k, u in enumerate(ordered)}


def _routes(g: _Graph) -> list[Route]:
    out_port = {v: _ports(g, v, g.down[v], 2 * g.verts[v].left) for v in g.verts}
    in_port = {v: _ports(g, v, g.up[v], 2 * g.verts[v].left) for v in g.verts}
    routes = []
    for a, b, chain in g.chains:
        va, vb = g.verts[a], g.verts[b]
        pts: list[Point] = [(out_port[a][chain[1]], va.y + va.height / 2)]
        label_at = None
        for vid in chain[1:-1]:
            d = g.verts[vid]
            if d.label:
                label_at = (d.x + 8.0, d.y - d.height / 2)
                pts += [(d.x, d.y - d.height / 2), (d.x, d.y + d.height / 2)]
            else:
                pts.append((d.x, d.y))
        pts.append((in_port[b][chain[-2]], vb.y - vb.height / 2))
        routes.append(Route(a, b, tuple(pts), label_at))
    return routes


def layout(
    nodes: Sequence[tuple[str, float, float]],
    edges: Sequence[tuple[str, str, tuple[float, float] | None]],
    *,
    gap: float = 28.0,
    vgap: float = 18.0,
    margin: float = 16.0,
) -> Layout:
    """Lay out `nodes` (id, width, height) joined by `edges` (src, dst, label size or None)."""
    if not nodes:
        return Layout(2 * margin, 2 * margin, {})
    g = _build(nodes, edges)
    _order(g)
    _x(g, gap)
    shift = margin - min(v.x - v.left for v in g.verts.values())
    for v in g.verts.values():
        v.x += shift
    width = max(v.x + v.right for v in g.verts.values()) + margin
    height = _y(g, margin, vgap)
    names = {n for n, _, _ in nodes}
    return Layout(width, height, {k: v for k, v in g.verts.items() if k in names}, _routes(g))
