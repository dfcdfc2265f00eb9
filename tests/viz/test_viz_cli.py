"""The graph, report and tag commands: outputs, defaults and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner
from viz_helpers import fake_run

from nb2pipe.frontends.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_graph_default_is_dag_html_in_cwd(samples_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("graph", str(samples_dir / "wine_classifier.ipynb"))
    assert r.exit_code == 0, r.output
    assert "wrote dag.html (7 steps, html)" in r.output
    html = (tmp_path / "dag.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count('class="node gate') == 2


@pytest.mark.parametrize(("name", "head"), [("g.mmd", "%% wine_classifier"), ("g.dot", "digraph")])
def test_graph_formats_from_suffix(samples_dir: Path, tmp_path: Path, name: str, head: str):
    out = tmp_path / "sub" / name
    r = invoke("graph", str(samples_dir / "wine_classifier.ipynb"), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith(head)


def test_graph_to_stdout(samples_dir: Path):
    r = invoke("graph", str(samples_dir / "iris_kale.ipynb"), "-o", "-", "--format", "mermaid")
    assert r.exit_code == 0 and r.output.splitlines()[1] == "flowchart TD"
    assert 'n1 -->|"clf, X_test, y_test"| n2' in r.output


def test_graph_bad_input_exits_2(samples_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nb = str(samples_dir / "iris_kale.ipynb")
    for args in (["-o", "x.svg"], ["--format", "png"], ["--run", "nope"]):
        r = invoke("graph", nb, *args)
        assert r.exit_code == 2, (args, r.output)
        assert r.output.startswith("error: ") and "Traceback" not in r.output
    assert invoke("graph", str(tmp_path / "missing.ipynb")).exit_code == 2
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_graph_with_run_warns_about_a_foreign_run(samples_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake_run(tmp_path)
    r = invoke("graph", str(samples_dir / "iris_kale.ipynb"), "--run", "latest", "-o", "g.mmd")
    assert r.exit_code == 0
    assert "warning: the run is of pipeline 'evil', not 'iris_kale'" in r.output
    assert "class n0,n1,n2 st_not_run" in (tmp_path / "g.mmd").read_text()


def test_report_command(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = fake_run(tmp_path)
    r = invoke("report", d.name)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    r = invoke("report", str(d), "-o", "out/r.html")
    assert r.exit_code == 0 and (tmp_path / "out" / "r.html").is_file()
    r = invoke("report", "missing")
    assert r.exit_code == 2 and "error: no run 'missing'" in r.output


def test_tag_command(samples_dir: Path, tmp_path: Path):
    src = shutil.copy(samples_dir / "diabetes_regression.ipynb", tmp_path / "d.ipynb")
    r = invoke("tag", str(src))
    assert r.exit_code == 0, r.output
    assert "cell   5  step:load" in r.output and "d.tagged.ipynb (5 step tag(s)" in r.output
    assert "cell   2  imports" in r.output and "1 role tag(s)" in r.output
    r = invoke("tag", str(src))
    assert r.exit_code == 2 and "exists" in r.output
    r = invoke("tag", str(tmp_path / "d.tagged.ipynb"), "--clear", "--in-place")
    assert r.exit_code == 0 and "removed 5" in r.output  # step tags; role tags stay
    cleared = json.loads((tmp_path / "d.tagged.ipynb").read_text())
    assert cleared["cells"][1]["metadata"].pop("tags") == ["imports"]
    assert cleared == json.loads(Path(src).read_text())


def test_report_and_graph_take_run_id_prefixes_as_runs_show_does(
    samples_dir: Path, tmp_path: Path, monkeypatch
):
    """One resolver (nb2pipe.mlops.runs.resolve_run) for `runs show`, `report` and
    `graph --run`: a unique prefix names a run, an ambiguous one is an error for all."""
    monkeypatch.chdir(tmp_path)
    fake_run(tmp_path, "20250101-000000-000-aaaa")
    fake_run(tmp_path, "20250102-000000-000-bbbb")
    nb = str(samples_dir / "iris_kale.ipynb")
    for prefix in ("20250102", "20250102-000000-000-bbbb"):
        shown = invoke("runs", "show", prefix, "--json")
        assert shown.exit_code == 0 and '"20250102-000000-000-bbbb"' in shown.output
        r = invoke("report", prefix, "-o", "r.html")
        assert r.exit_code == 0 and "20250102-000000-000-bbbb" in r.output, r.output
        r = invoke("graph", nb, "--run", prefix, "-o", "g.mmd")
        assert r.exit_code == 0 and "the run is of pipeline 'evil'" in r.output, r.output
    for args in (("runs", "show", "2025"), ("report", "2025"), ("graph", nb, "--run", "2025")):
        r = invoke(*args)
        assert r.exit_code == 2 and "'2025' matches 2 runs" in r.output, (args, r.output)
