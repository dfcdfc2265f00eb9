"""Run records you can act on, through the CLI in real processes: the command as typed
(rerunnable), why each step reran (-v), one way to name a run for `runs show`, `report`
and `graph --run`, `runs compare` marked in text, metrics that are numbers, figures as the
notebook showed them."""

from __future__ import annotations

import json
import shlex
import struct
from pathlib import Path

import pytest
from project_helpers import make_project, record, sh, write_notebook


def converted(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "proj"
    nbs = make_project(root)
    done = sh(nbs, "nb2pipe", "convert", "tiny.ipynb", "-o", "pipelines/tiny")
    assert done.returncode == 0, done.stderr
    return root, nbs


@pytest.mark.integration
def test_the_command_is_recorded_as_typed_and_reruns(tmp_path: Path) -> None:
    root, nbs = converted(tmp_path)
    typed = ["python", "-m", "pipelines.tiny", "-p", "data_path=my data.json", "--run-id", "a"]
    (nbs / "my data.json").write_text(json.dumps({"values": [4, 5, 6]}))
    assert sh(nbs, *typed).returncode == 0
    rec = record(root / "runs" / "a")
    assert rec["command"][1:] == typed[1:] and Path(rec["command"][0]).name.startswith("python")
    assert rec["cwd"] == str(nbs)
    shown = sh(root, "nb2pipe", "runs", "show", "a")
    line = next(x for x in shown.stdout.splitlines() if x.startswith("command: "))
    assert shlex.split(line.removeprefix("command: ")) == rec["command"]
    assert f"in: {nbs}" in shown.stdout
    again = shlex.split(line.removeprefix("command: ").replace("--run-id a", "--run-id b"))
    assert sh(nbs, *again).returncode == 0  # pasted back into a shell, it runs again
    assert record(root / "runs" / "b")["parameters"]["data_path"] == "my data.json"

    assert sh(nbs, "nb2pipe", "run", "pipelines/tiny", "-q", "--run-id", "c").returncode == 0
    assert record(root / "runs" / "c")["command"] == [
        "nb2pipe", "run", "pipelines/tiny", "-q", "--run-id", "c"
    ]  # fmt: skip


@pytest.mark.integration
def test_verbose_says_why_each_step_reran(tmp_path: Path) -> None:
    _, nbs = converted(tmp_path)
    first = sh(nbs, "nb2pipe", "run", "pipelines/tiny", "-v")
    assert "[nb2pipe] load ok" in first.stdout and "(ran: no earlier result)" in first.stdout
    second = sh(nbs, "nb2pipe", "run", "pipelines/tiny", "-v", "-p", "shift=2")
    lines = [x for x in second.stdout.splitlines() if x.startswith("[nb2pipe] ")]
    assert "[nb2pipe] load cached" in lines
    train = next(x for x in lines if x.startswith("[nb2pipe] train ok"))
    assert train.endswith("(ran: parameter shift changed)")
    evaluate = next(x for x in lines if x.startswith("[nb2pipe] evaluate ok"))
    assert evaluate.endswith("(ran: input model changed)")


@pytest.mark.integration
def test_report_graph_and_show_take_the_same_run_references(tmp_path: Path) -> None:
    root, nbs = converted(tmp_path)
    for rid in ("alpha-1", "alpha-2", "beta-1"):
        assert sh(nbs, "nb2pipe", "run", "pipelines/tiny", "-q", "--run-id", rid).returncode == 0
    for ref, expected in (("beta", "beta-1"), ("alpha-2", "alpha-2"), ("latest", "beta-1")):
        shown = sh(nbs, "nb2pipe", "runs", "show", ref, "--json")
        assert json.loads(shown.stdout)["run_id"] == expected
        report = sh(nbs, "nb2pipe", "report", ref, "-o", "r.html")
        assert report.returncode == 0, report.stderr
        assert f"(run {root / 'runs' / expected})" in report.stdout
        graph = sh(
            nbs,
            "nb2pipe",
            "graph",
            "pipelines/tiny",
            "--run",
            ref,
            "-o",
            "-",
            "--format",
            "mermaid",
        )
        assert graph.returncode == 0, graph.stderr
    for command in (
        ["runs", "show", "alpha"],
        ["report", "alpha"],
        ["graph", "pipelines/tiny", "--run", "alpha"],
    ):
        ambiguous = sh(nbs, "nb2pipe", *command)
        assert ambiguous.returncode == 2
        assert (
            "'alpha' matches 2 runs (alpha-1, alpha-2) (give more of the run id)"
            in ambiguous.stderr
        )


@pytest.mark.integration
def test_compare_marks_differences_and_best_values_in_text(tmp_path: Path) -> None:
    _, nbs = converted(tmp_path)
    for rid, shift in (("r1", "0"), ("r2", "4"), ("r3", "0")):
        assert (
            sh(
                nbs,
                "nb2pipe",
                "run",
                "pipelines/tiny",
                "-q",
                "-p",
                f"shift={shift}",
                "--run-id",
                rid,
            ).returncode
            == 0
        )
    out = sh(nbs, "nb2pipe", "runs", "compare", "r1", "r2").stdout  # NO_COLOR, not a terminal
    row = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 2}
    assert "param shift *" in row
    assert "param data_path" in row  # the same in both: no mark
    error = row["metric error ↓"].split("│")
    assert error[2].strip() == "0 best" and error[3].strip() == "0.5"
    assert "* differs between the runs; best: the best value of a metric" in out
    same = sh(nbs, "nb2pipe", "runs", "compare", "r1", "r3").stdout
    cells = [
        c.strip() for line in same.splitlines() if line.count("│") > 2 for c in line.split("│")
    ]
    assert cells and not any(c.endswith((" *", " best")) for c in cells)


@pytest.mark.integration
def test_a_metric_that_is_not_a_number_is_an_error(tmp_path: Path) -> None:
    cells = [
        ("step:score", "accuracy = 0.9\nname = 'forest'"),
        ("metrics", "accuracy\nreport = f'{accuracy:.0%}'"),
    ]
    nb = write_notebook(tmp_path / "text.ipynb", cells)
    refused = sh(tmp_path, "nb2pipe", "convert", str(nb), "-o", "out")
    assert refused.returncode == 2
    assert "cell 2, line 2: metric 'report' is a string (f-string), not a number" in refused.stderr
    # set in a step cell: found at convert too, naming where it is set
    cells = [("step:score", "accuracy = 0.9\nname = 'forest'"), ("metrics", "accuracy\nname")]
    nb = write_notebook(tmp_path / "step.ipynb", cells)
    refused = sh(tmp_path, "nb2pipe", "convert", str(nb), "-o", "step")
    assert refused.returncode == 2
    assert (
        "cell 2, line 2: metric 'name' is a string (set in cell 1, line 2), not a number"
        in refused.stderr
    )
    # a value convert cannot see is checked when the step runs
    cells = [
        ("step:score", "accuracy = 0.9\nname = 'forest'.title()"),
        ("metrics", "accuracy\nname"),
    ]
    nb = write_notebook(tmp_path / "later.ipynb", cells)
    assert sh(tmp_path, "nb2pipe", "convert", str(nb), "-o", "later").returncode == 0
    run = sh(tmp_path, "nb2pipe", "run", "later", "--run-id", "x")
    assert run.returncode == 1
    assert "step 'score': metric 'name' is a str ('Forest'), not a number" in run.stderr
    assert record(tmp_path / "runs" / "x")["steps"]["score"]["status"] == "failed"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.integration
def test_saved_figures_keep_their_size_and_dpi_and_are_not_clipped(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401

    code = (
        "import matplotlib.pyplot as plt\n"
        "fig = plt.figure(figsize=(3, 2), dpi=50)\n"
        "plt.plot([1, 2, 3])\n"
        "fig.text(0.98, 0.5, 'a label that runs past the right edge of the figure')"
    )
    nb = write_notebook(tmp_path / "plot.ipynb", [("step:plot", code)])
    assert sh(tmp_path, "nb2pipe", "convert", str(nb), "-o", "plotpkg").returncode == 0
    assert sh(tmp_path, "nb2pipe", "run", "plotpkg", "--run-id", "f", "-q").returncode == 0
    width, height = _png_size(tmp_path / "runs" / "f" / "figures" / "plot-1.png")
    assert width > 3 * 50 + 100  # the label is in (clipped at 150 pixels before)
    assert height <= 2 * 50 + 10  # at the figure's dpi (50), not the default's (100)
