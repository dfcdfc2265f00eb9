"""The layered layout: ranks, no overlaps, edges from bottom to top, labels clear of nodes."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from nb2pipe.codegen.mermaid import StepState
from nb2pipe.runtime.spec import Pipeline, Step
from nb2pipe.viz.drawing import draw, path_d, text_width, wrap
from nb2pipe.viz.graph import DagView
from nb2pipe.viz.layout import Vertex, layout, place, ranks

GAP = 28.0


def boxes(lay, sizes):
    return {
        n: (
            v.x - sizes[n][0] / 2,
            v.y - sizes[n][1] / 2,
            v.x + sizes[n][0] / 2,
            v.y + sizes[n][1] / 2,
        )
        for n, v in lay.nodes.items()
    }


def overlap(a, b, pad=0.0):
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def test_ranks_longest_path_and_sources_next_to_their_consumer():
    names = ["a", "b", "c", "d", "late"]
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("late", "d")]
    r = ranks(names, edges)
    assert r == {"a": 0, "b": 1, "c": 2, "d": 3, "late": 2}


def test_ranks_survive_a_cycle():
    r = ranks(["a", "b"], [("a", "b"), ("b", "a")])
    assert r["a"] < r["b"]


def test_place_keeps_order_and_gaps_and_is_least_squares():
    vs = [Vertex(n, 0, 10, 10, 10) for n in "abc"]
    place(vs, {"a": 0.0, "b": 0.0, "c": 100.0}, gap=5)
    assert [v.x for v in vs] == [-12.5, 12.5, 100.0]


def test_diamond_layout_geometry():
    sizes = {"load": (80, 40), "left": (90, 40), "right": (90, 40), "join": (80, 40)}
    edges = [("load", "left", (40, 14)), ("load", "right", None), ("left", "join", (30, 14)),
             ("right", "join", (30, 14))]  # fmt: skip
    lay = layout([(n, w, h) for n, (w, h) in sizes.items()], edges)
    b = boxes(lay, sizes)
    assert lay.nodes["load"].y < lay.nodes["left"].y == lay.nodes["right"].y < lay.nodes["join"].y
    assert not overlap(b["left"], b["right"])
    for r in lay.routes:
        (x0, y0), (x1, y1) = r.points[0], r.points[-1]
        assert y0 == b[r.src][3] and y1 == b[r.dst][1]  # leaves the bottom, enters the top
        assert b[r.src][0] <= x0 <= b[r.src][2] and b[r.dst][0] <= x1 <= b[r.dst][2]
        assert all(p[1] <= q[1] for p, q in itertools.pairwise(r.points))  # always downwards
    labelled = [r for r in lay.routes if r.label_at]
    assert len(labelled) == 3
    assert 0 <= min(v.x - sizes[n][0] / 2 for n, v in lay.nodes.items())
    assert max(v.x + sizes[n][0] / 2 for n, v in lay.nodes.items()) <= lay.width


def test_barycenter_ordering_removes_avoidable_crossings():
    # given order would cross: a->y, b->x with x before y
    nodes = [(n, 60, 30) for n in ("a", "b", "x", "y")]
    lay = layout(nodes, [("a", "y", None), ("b", "x", None)])
    ax, bx = lay.nodes["a"].x, lay.nodes["b"].x
    xx, yx = lay.nodes["x"].x, lay.nodes["y"].x
    assert (ax - bx) * (yx - xx) > 0


def test_layout_is_deterministic_and_handles_empty_and_unknown_edges():
    nodes = [("a", 50, 30), ("b", 50, 30)]
    edges = [("a", "b", (20, 14)), ("a", "ghost", None), ("b", "b", None)]
    first, second = layout(nodes, edges), layout(nodes, edges)
    assert first == second
    assert len(first.routes) == 1
    assert layout([], []).nodes == {}


@st.composite
def dags(draw_):
    n = draw_(st.integers(1, 9))
    names = [f"s{k}" for k in range(n)]
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    chosen = draw_(
        st.lists(st.sampled_from(pairs), unique=True, max_size=14) if pairs else st.just([])
    )
    widths = draw_(st.lists(st.integers(40, 200), min_size=n, max_size=n))
    labels = draw_(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    return names, widths, chosen, labels


@settings(max_examples=60, deadline=None)
@given(dags())
def test_random_dags_never_overlap(dag):
    names, widths, chosen, labels = dag
    sizes = {n: (w, 46.0) for n, w in zip(names, widths, strict=True)}
    edges = [
        (a, b, (70.0, 14.0) if lab else None) for (a, b), lab in zip(chosen, labels, strict=True)
    ]
    lay = layout([(n, *sizes[n]) for n in names], edges)
    b = boxes(lay, sizes)
    for m, n in itertools.combinations(names, 2):
        assert not overlap(b[m], b[n], pad=-0.01), (m, n)
    label_boxes = [(r.label_at[0], r.label_at[1], r.label_at[0] + 70, r.label_at[1] + 14)
                   for r in lay.routes if r.label_at]  # fmt: skip
    for lb in label_boxes:
        assert not any(overlap(lb, nb, pad=-0.01) for nb in b.values())
    for la, lb in itertools.combinations(label_boxes, 2):
        assert not overlap(la, lb, pad=-0.01)
    for r in lay.routes:
        assert all(p[1] <= q[1] for p, q in itertools.pairwise(r.points))


def test_wrap_and_text_width():
    assert wrap(["alpha", "beta", "gamma"], 12) == ["alpha, beta,", "gamma"]
    assert wrap([f"v{k}" for k in range(40)], 10, max_lines=2)[-1].endswith("more")
    assert wrap([], 10) == []
    assert text_width("ab") == 2 * 0.6 * 12
    assert text_width("表") == 2 * 0.6 * 12  # wide characters take two columns


def test_path_is_straight_when_vertical_and_curved_otherwise():
    assert path_d(((10, 0), (10, 20))) == "M10.0,0.0 L10.0,20.0"
    assert path_d(((0, 0), (10, 20))).startswith("M0.0,0.0 C0.0,10.0 10.0,10.0 10.0,20.0")


def test_drawing_marks_gates_and_statuses():
    steps = (Step("a", params=("seed",)), Step("check_a", {"x": "a"}, kind="gate"))
    dag = DagView(
        Pipeline("p", "", steps),
        run={"run_id": "r"},
        states={"check_a": StepState("failed", duration=1.5)},
    )
    d = draw(dag)
    gate = next(n for n in d.nodes if n.name == "check_a")
    assert gate.hexagon and gate.status == "failed"
    assert [t.text for t in gate.lines][-1] == "failed · 1.50 s"
    a = next(n for n in d.nodes if n.name == "a")
    assert a.status == "not run" and "params: seed" in [t.text for t in a.lines]
    assert d.edges[0].label == ("x",)
