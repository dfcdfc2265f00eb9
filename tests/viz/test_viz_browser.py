"""The HTML pages in a real headless Chromium (Debian's, driven by Playwright): every step
drawn, statuses right, figures loaded, text inside its box, and no request leaving the page."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from viz_helpers import fake_run, nb2pipe

from nb2pipe import api
from nb2pipe.codegen.spec import to_spec

pytestmark = pytest.mark.integration

NODES_JS = """() => [...document.querySelectorAll('svg.dag g.node')].map(g => {
  const r = g.getBoundingClientRect();
  const shape = g.querySelector('.shape').getBoundingClientRect();
  const texts = [...g.querySelectorAll('text')].map(t => t.getBoundingClientRect());
  return {step: g.dataset.step, status: g.dataset.status, kind: g.dataset.kind,
          shape: g.querySelector('.shape').tagName,
          box: [shape.left, shape.top, shape.right, shape.bottom],
          texts: texts.map(t => [t.left, t.top, t.right, t.bottom])};
})"""


def nodes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(NODES_JS)


def check_geometry(found: list[dict[str, Any]]) -> None:
    for n in found:
        left, top, right, bottom = n["box"]
        for t in n["texts"]:  # the real font's text fits inside the drawn shape
            assert left <= t[0] and t[2] <= right and top <= t[1] and t[3] <= bottom + 1, n["step"]
    for a, b in itertools.combinations(found, 2):
        A, B = a["box"], b["box"]
        assert A[2] <= B[0] or B[2] <= A[0] or A[3] <= B[1] or B[3] <= A[1], (a["step"], b["step"])


def test_graph_page_of_a_notebook(project, open_page, tmp_path: Path):
    out = tmp_path / "dag.html"
    done = nb2pipe("graph", str(project.notebook), "-o", str(out), cwd=project.root)
    assert done.returncode == 0, done.stderr
    opened = open_page(out)
    pipe = api.load(project.notebook)
    found = nodes(opened.page)
    assert [n["step"] for n in found] == [s.name for s in pipe.steps]
    assert {n["step"]: n["shape"] for n in found} == {
        s.name: "polygon" if s.kind == "gate" else "rect" for s in pipe.steps
    }
    assert {n["status"] for n in found} == {"none"}
    edges = opened.page.eval_on_selector_all(
        "svg.dag g.edge", "els => els.map(e => [e.dataset.src, e.dataset.dst, e.dataset.vars])"
    )
    want = [(e.src, e.dst, ",".join(e.variables)) for e in to_spec(pipe).edges]
    assert sorted(map(tuple, edges)) == sorted(want)
    assert opened.page.locator("text.edge-label", has_text="xs, ys").count() == 1
    assert opened.page.locator("g.node[data-step=summarise] text.params").count() == 0
    assert (
        "params: limit" in opened.page.locator("g.node[data-step=check_summarise]").text_content()
    )
    check_geometry(found)
    assert opened.blocked == []


def test_graph_page_coloured_by_a_run(project, open_page, tmp_path: Path):
    out = tmp_path / "dag.html"
    args = ("graph", project.package, "--run", project.runs[0], "-o", str(out))
    assert nb2pipe(*args, cwd=project.root).returncode == 0
    opened = open_page(out)
    record = project.record(0)
    found = nodes(opened.page)
    assert {n["step"]: n["status"] for n in found} == {
        k: v["status"] for k, v in record["steps"].items()
    }
    assert {n["status"] for n in found} == {"ok", "failed", "skipped"}
    duration = f"{record['steps']['plot']['duration']:.2f} s"
    assert f"ok · {duration}" in opened.page.locator("g.node[data-step=plot]").text_content()
    fill = opened.page.eval_on_selector(
        "g.node[data-step=check_summarise] .shape", "e => getComputedStyle(e).fill"
    )
    assert fill == "rgb(249, 214, 216)"  # failed: red
    check_geometry(found)
    assert opened.blocked == []


def test_report_page_of_a_failed_run(project, open_page, tmp_path: Path):
    out = tmp_path / "report.html"
    done = nb2pipe("report", project.runs[0], "-o", str(out), cwd=project.root)
    assert done.returncode == 0, done.stderr
    dialogs: list[str] = []
    opened = open_page(out)
    page = opened.page
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    record = project.record(0)
    statuses = {k: v["status"] for k, v in record["steps"].items()}
    assert {n["step"]: n["status"] for n in nodes(page)} == statuses
    rows = page.eval_on_selector_all(
        "table.steps tr[data-step]", "rs => rs.map(r => [r.dataset.step, r.dataset.status])"
    )
    assert dict(rows) == statuses
    gates = page.eval_on_selector_all(
        "table.gates tr[data-gate]", "rs => rs.map(r => [r.dataset.gate, r.dataset.result])"
    )
    assert dict(gates) == {"check_make_data": "passed", "check_summarise": "failed"}
    assert page.locator("#run-error").inner_text().startswith("gate 'check_summarise' failed")
    assert page.locator("tr[data-metric=total] td").nth(1).inner_text() == "2470"
    assert page.locator("tr[data-param=limit] td").nth(1).inner_text() == "1"
    # figures: every one the run recorded, decoded by the browser
    imgs = page.eval_on_selector_all(
        "figure img",
        "is => is.map(i => [i.closest('figure').dataset.path, i.complete, i.naturalWidth])",
    )
    assert [i[0] for i in imgs] == record["steps"]["plot"]["figures"] == ["figures/plot-1.png"]
    assert all(complete and width > 0 for _, complete, width in imgs)
    # the log line with markup is text, not markup: no script element, no alert
    log = page.locator("details.log[data-step=plot] pre").text_content()
    assert "<script>alert(1)</script> & </pre> done" in log
    assert page.evaluate("document.scripts.length") == 0 and dialogs == []
    assert page.locator("details.log[data-step=check_summarise]").get_attribute("open") == ""
    assert opened.blocked == []


def test_report_page_of_a_cached_run(project, open_page, tmp_path: Path):
    out = tmp_path / "report.html"
    assert nb2pipe("report", project.runs[1], "-o", str(out), cwd=project.root).returncode == 0
    opened = open_page(out)
    found = {n["step"]: n["status"] for n in nodes(opened.page)}
    assert found == {k: v["status"] for k, v in project.record(1)["steps"].items()}
    assert list(found.values()).count("cached") == 4
    assert opened.page.locator("#nb2pipe-report").get_attribute("data-status") == "ok"
    assert opened.blocked == []


def test_report_of_a_hostile_run_stays_inert(open_page, tmp_path: Path, monkeypatch):

    from nb2pipe.viz.report import report

    monkeypatch.chdir(tmp_path)
    fake_run(tmp_path)
    html, _, _ = report("latest")
    out = tmp_path / "hostile.html"
    out.write_text(html)
    opened = open_page(out)
    page = opened.page
    assert page.evaluate("document.scripts.length") == 0
    assert page.locator("img").count() == 2  # the two real PNGs, no injected <img>
    assert all(
        ok for ok in page.eval_on_selector_all("img", "is => is.map(i => i.naturalWidth > 0)")
    )
    assert opened.blocked == []


def test_the_harness_sees_requests(open_page, tmp_path: Path):
    """Control: a page that does fetch something is caught (route and list both work)."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><img src="http://198.51.100.7/x.png"><p>hi</p>')
    opened = open_page(page)
    assert opened.blocked == ["http://198.51.100.7/x.png"]


def test_mermaid_and_dot_outputs_are_plain_text(project, tmp_path: Path):
    for suffix in ("mmd", "dot"):
        out = tmp_path / f"dag.{suffix}"
        args = ("graph", project.package, "-o", str(out), "--run", "latest")
        done = nb2pipe(*args, cwd=project.root)
        assert done.returncode == 0, done.stderr
        text = out.read_text()
        assert json.dumps("check_summarise")[1:-1] in text
