"""The run report: reading an untrusted run folder safely, and the page it makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from viz_helpers import HOSTILE, fake_run

from nb2pipe.mlops.runs import RunsError, read_run, resolve_run
from nb2pipe.viz import report, runs


def test_resolve_by_path_id_prefix_and_latest(tmp_path: Path):
    """The report names runs as `runs show` does (one resolver, nb2pipe.mlops.runs)."""
    d = fake_run(tmp_path)
    fake_run(tmp_path, "20250102-000000-000-bbbb")
    assert resolve_run(str(d))[0] == d
    assert resolve_run(d.name, tmp_path / "runs")[0] == tmp_path / "runs" / d.name
    assert resolve_run("latest", tmp_path / "runs")[0].name == "20250102-000000-000-bbbb"
    assert resolve_run("20250102", tmp_path / "runs")[0].name == "20250102-000000-000-bbbb"
    for bad in ("../runs", "nope", "/etc", "2025"):  # 2025: matches two runs
        with pytest.raises(RunsError):
            resolve_run(bad, tmp_path / "runs")
    with pytest.raises(RunsError):
        resolve_run("latest", tmp_path / "empty")


def test_bad_records_are_errors(tmp_path: Path):
    for text in ("{", "[]", '{"steps": 3}'):
        d = tmp_path / text.replace("{", "o").replace("[", "l").replace('"', "q").replace(":", "c")
        d.mkdir()
        (d / "run.json").write_text(text)
        with pytest.raises(RunsError, match="run.json"):
            read_run(d)


def test_paths_stay_inside_the_run(tmp_path: Path):
    d = fake_run(tmp_path)
    assert runs.inside(d, "logs/plot.log") == (d / "logs" / "plot.log").resolve()
    for bad in ("../secret.png", "/etc/passwd", "", None, 3, "a\0b", "."):
        assert runs.inside(d, bad) is None


def test_log_tail_is_bounded_and_cleaned(tmp_path: Path):
    d = fake_run(tmp_path)
    tail = runs.log_tail(d, "logs/plot.log", lines=10)
    assert tail is not None and tail.truncated and tail.lines == 10
    assert tail.text.splitlines()[0] == "line 191"
    assert "\x1b" not in tail.text and tail.text.endswith(HOSTILE)
    assert runs.log_tail(d, "../../../etc/passwd") is None
    assert runs.log_tail(d, "logs/missing.log") is None


def test_figures_only_pngs_inside_the_run(tmp_path: Path):
    d = fake_run(tmp_path)
    record = read_run(d)
    figs = runs.figures(d, record["steps"])
    by_path = {f.path: f for f in figs}
    assert by_path["figures/plot-1.png"].data_uri.startswith("data:image/png;base64,iVBORw0KGgo")
    assert by_path["figures/fake.png"].data_uri is None
    assert by_path["../../secret.png"].problem.startswith("outside")
    assert by_path["7"].data_uri is None
    assert by_path["figures/extra.png"].step == "" and by_path["figures/extra.png"].data_uri


def test_report_escapes_everything_from_the_run(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake_run(tmp_path)
    html, run_dir, warnings = report.report("latest")
    assert "<script" not in html.lower() and "<img src=http" not in html
    assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 8
    assert "DAG from the run record only" in warnings[0]  # "../../evil" is no package name
    assert 'data-step="load"' in html and 'data-status="failed"' in html
    assert 'data-gate="check_plot" data-result="failed"' in html
    assert 'data-param="token"' in html and "secret: not recorded" in html
    assert html.count('<img src="data:image/png;base64,') == 2  # plot-1.png and extra.png
    assert "not a PNG file" in html and "outside the run folder" in html
    assert "red &lt;script&gt;" in html  # ANSI codes gone, text escaped


def test_dag_from_record_uses_recorded_inputs_and_gate_errors(tmp_path: Path):
    record = read_run(fake_run(tmp_path))
    dag = report.dag_from_record(record)
    assert [s.name for s in dag.steps][:3] == ["load", "plot", "check_plot"]
    assert dag.pipeline.step("check_plot").kind == "gate"
    assert {(e.src, e.dst, e.variables) for e in dag.edges} == {
        ("load", "plot", ("df",)), ("load", "check_plot", ("df",))}  # fmt: skip


@pytest.mark.integration
def test_report_of_a_real_run(project, monkeypatch):
    monkeypatch.chdir(project.root)
    html, run_dir, warnings = report.report(project.runs[0])
    assert warnings == []  # the package was found here: the full DAG
    record = project.record(0)
    for name, rec in record["steps"].items():
        assert f'<tr data-step="{name}" data-status="{rec["status"]}">' in html
    assert 'data-gate="check_summarise" data-result="failed"' in html
    assert 'data-gate="check_make_data" data-result="passed"' in html
    assert '<tr data-metric="total"><td class="mono">total</td><td class="mono">2470</td>' in html
    assert html.count('<img src="data:image/png;base64,') == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;/pre&gt; done" in html
    cached, _, _ = report.report(project.runs[1])
    assert cached.count('data-status="cached"') >= 4
