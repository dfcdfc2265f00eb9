"""Mermaid, DOT and HTML renderings: content, and escaping of hostile names and text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nb2pipe import api
from nb2pipe.runtime.spec import Edge, Param, Pipeline, Step
from nb2pipe.viz import graph, textfmt
from nb2pipe.viz.graph import DagView, VizError

EVIL = 'x"]; n9["<script>alert(1)</script>\n-->|#quot;| end\\'


def small(run: bool = False) -> DagView:
    steps = (
        Step("load", outputs=("df",), cells=(2,), doc="Load it."),
        Step("check_load", {"df": "load"}, kind="gate", cells=(3,)),
        Step("train", {"df": "load"}, params=("seed", "alpha"), after=("check_load",),
             cells=(4, 5)),
    )  # fmt: skip
    params = (Param("seed", int, 0, "random seed"),
              Param("token", str, None, secret=True, env="TOKEN"))  # fmt: skip
    dag = graph.from_pipeline(Pipeline("demo", "", steps, params), "demo.ipynb")
    assert dag.edges == (Edge("load", "check_load", ("df",)), Edge("load", "train", ("df",)),
                         Edge("check_load", "train"))  # fmt: skip
    if run:
        rec = {"run_id": "r1", "pipeline": "demo", "status": "failed",
               "steps": {"load": {"status": "ok", "duration": 0.5},
                         "check_load": {"status": "failed", "error": {"message": "bad"}},
                         "train": {"status": "skipped", "reason": "upstream check_load failed"}}}  # fmt: skip
        dag, warnings = graph.with_run(dag, rec)
        assert warnings == []
    return dag


def test_mermaid_shapes_edges_and_statuses():
    text = textfmt.mermaid(small(run=True))
    assert text.splitlines()[1] == "flowchart TD"
    assert 'n1{{"check_load<br/>gate · cell 3<br/>failed"}}' in text
    assert 'n2["train<br/>cells 4, 5<br/>params: seed, alpha<br/>skipped"]' in text
    assert 'n0 -->|"df"| n2' in text and "n1 -.-> n2" in text
    assert "class n1 st_failed" in text and "classDef st_skipped" in text


def test_dot_shapes_edges_and_statuses():
    text = textfmt.dot(small(run=True))
    assert text.startswith('digraph "demo" {') and text.rstrip().endswith("}")
    assert re.search(r'n1 \[label="check_load\\ngate · cell 3\\nfailed", shape=hexagon', text)
    assert 'n0 -> n2 [label="df"];' in text and "n1 -> n2 [style=dashed];" in text
    assert 'fillcolor="#f9d6d8"' in text


def hostile() -> DagView:
    steps = (Step(EVIL, doc=EVIL, params=(EVIL,)), Step("b", {EVIL: EVIL}))
    return graph.from_pipeline(Pipeline(EVIL, "", steps))


def test_mermaid_escapes_everything_it_would_parse():
    text = textfmt.mermaid(hostile())
    body = text.split("\n", 2)[2]
    for bad in ('"]', "<script", "\n-->|#quot;", "-->|#"):
        assert bad not in body.replace('"]\n', "\n")
    assert text.count("\n") == 5  # comment, header, 2 nodes, 1 edge: no injected lines
    assert "#lt;script#gt;" in text and "#35;quot;" in text


def test_dot_escapes_quotes_backslashes_and_newlines():
    text = textfmt.dot(hostile())
    lines = text.splitlines()
    assert len(lines) == 4 + 2 + 1 + 1
    for line in lines[4:7]:  # every quoted string is closed: quotes come in escaped pairs
        unescaped = re.sub(r"\\.", "", line)
        assert unescaped.count('"') % 2 == 0, line
    assert '\\"]; n9[\\"<script>' in text and "\\\\" in text


def test_html_escapes_and_has_no_script(tmp_path: Path):
    html = graph.render(hostile(), "html")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-step="x&#34;]; n9[&#34;&lt;script&gt;' in html
    assert "default-src 'none'" in html  # CSP: the page may fetch nothing
    assert "http://" not in html and "https://" not in html


def test_html_lists_steps_params_and_marks_secrets():
    html = graph.render(small(run=True), "html")
    for name in ("load", "check_load", "train"):
        assert f'data-step="{name}"' in html
    assert 'class="node gate status-failed"' in html
    assert "env TOKEN" in html and "(secret)" in html
    assert "coloured by run <code>r1</code>" in html


def test_same_dag_from_notebook_and_package(samples_dir: Path, tmp_path: Path, monkeypatch):
    nb = samples_dir / "diabetes_regression.ipynb"
    monkeypatch.chdir(tmp_path)
    api.convert(nb, tmp_path / "diab_viz_pkg")
    from_nb, from_pkg = graph.load(nb), graph.load(tmp_path / "diab_viz_pkg")
    assert from_nb.steps == from_pkg.steps and from_nb.edges == from_pkg.edges
    assert from_nb.parameters == from_pkg.parameters
    assert from_nb.edges[0] == Edge("load", "prepare_features", ("df",))
    assert textfmt.mermaid(from_nb) == textfmt.mermaid(from_pkg)
    # the package's README draws its DAG with the same writer
    readme = (tmp_path / "diab_viz_pkg" / "README.md").read_text()
    assert "```mermaid\n" + textfmt.mermaid(from_pkg) + "```" in readme


def test_with_run_reports_mismatches():
    dag, warnings = graph.with_run(small(), {"pipeline": "other", "steps": {"zzz": {}, "load": 3}})
    assert any("pipeline 'other'" in w for w in warnings) and any("zzz" in w for w in warnings)
    assert {dag.state(s.name).status for s in dag.steps} == {"not run"}


@pytest.mark.parametrize(
    ("output", "fmt", "want"),
    [
        (None, None, "html"),
        ("-", None, "html"),
        ("a/dag.MMD", None, "mermaid"),
        ("x.gv", None, "dot"),
        ("x.txt", "dot", "dot"),
    ],  # fmt: skip
)
def test_format_for(output, fmt, want):
    assert graph.format_for(output, fmt) == want


def test_format_for_rejects_unknown():
    with pytest.raises(VizError):
        graph.format_for("dag.svg", None)
    with pytest.raises(VizError):
        graph.format_for(None, "png")
