"""The `nb2pipe` command line through typer's CliRunner: version, help, convert, inspect
(table and JSON), convert --check."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from nb2pipe import __version__
from nb2pipe.frontends.cli import app

SIMPLE = [
    ("imports", "import math"),
    ("parameters", "n: int = 3  # how many\nlabel = 'x'"),
    ("md", "## Make\n\nBuild the numbers."),
    ("step:make", "xs = [math.sqrt(i) for i in range(n)]"),
    ("step:total", "total = sum(xs)\nprint(label, total)"),
    ("metrics", "total"),
]

VERBS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"nb2pipe {__version__}\n"


def test_help_lists_the_verbs(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in ("convert", "inspect", "run"):
        assert verb in result.stdout


def test_no_arguments_shows_help(runner):
    result = runner.invoke(app, [])
    assert result.exit_code in (0, 2)
    assert "convert" in result.stdout + result.stderr


@pytest.mark.parametrize("verb", VERBS)
def test_help_of_every_verb(runner, verb):
    result = runner.invoke(app, [verb, "--help"])
    assert result.exit_code == 0, result.stderr
    assert "usage" in result.stdout.lower()
    assert len(result.stdout.splitlines()) > 3


def test_unknown_verb_is_a_usage_error(runner):
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code == 2


def test_convert(runner, write_nb, tmp_path):
    nb = write_nb(SIMPLE, name="simple")
    out = tmp_path / "simple_pkg"
    result = runner.invoke(app, ["convert", str(nb), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"wrote {out} (2 steps" in result.stdout
    assert (out / "steps" / "make.py").is_file()
    assert result.stderr == ""  # no warnings for this notebook


def test_convert_default_output_and_name(runner, write_nb, tmp_path, monkeypatch):
    nb = write_nb(SIMPLE, name="simple")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["convert", str(nb), "--name", "my-pipe"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "pipelines" / "my_pipe" / "pipeline.py").is_file()


def test_convert_prints_warnings_on_stderr(runner, write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1"), ("step:b", "!echo hi\ny = x")], name="warn")
    result = runner.invoke(app, ["convert", str(nb), "-o", str(tmp_path / "warn_pkg")])
    assert result.exit_code == 0
    assert "warning" in result.stderr and "cell 2" in result.stderr
    quiet = runner.invoke(app, ["convert", str(nb), "-o", str(tmp_path / "warn_pkg"), "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_convert_strict(runner, write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1"), ("step:b", "!echo hi\ny = x")], name="strict")
    out = tmp_path / "strict_pkg"
    result = runner.invoke(app, ["convert", str(nb), "-o", str(out), "--strict"])
    assert result.exit_code == 2
    assert "--strict" in result.stderr and "cell 2" in result.stderr
    assert not out.exists()


def test_convert_split_on(runner, write_nb, tmp_path):
    cells = [("md", "# T"), ("md", "## A"), ("", "x = 1"), ("md", "### B"), ("", "y = x")]
    nb = write_nb(cells, name="heads")
    out = tmp_path / "heads_pkg"
    result = runner.invoke(app, ["convert", str(nb), "-o", str(out), "--split-on", "h3"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.stem for p in (out / "steps").glob("*.py")) == ["__init__", "b", "setup"]


def test_convert_check(runner, write_nb, tmp_path):
    nb = write_nb(SIMPLE, name="simple")
    out = tmp_path / "simple_pkg"
    missing = runner.invoke(app, ["convert", str(nb), "-o", str(out), "--check"])
    assert missing.exit_code == 1 and not out.exists()
    assert runner.invoke(app, ["convert", str(nb), "-o", str(out)]).exit_code == 0
    fresh = runner.invoke(app, ["convert", str(nb), "-o", str(out), "--check"])
    assert fresh.exit_code == 0, fresh.stderr
    assert "up to date" in fresh.stdout
    (out / "steps" / "make.py").write_text(
        (out / "steps" / "make.py").read_text().replace("range(n)", "range(n + 1)")
    )
    edited = runner.invoke(app, ["convert", str(nb), "-o", str(out), "--check"])
    assert edited.exit_code == 1
    assert "steps/make.py" in edited.stderr and "out of date" in edited.stderr


def test_inspect_table(runner, write_nb, tmp_path):
    nb = write_nb(SIMPLE, name="simple")
    result = runner.invoke(app, ["inspect", str(nb)])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for word in ("make", "total", "xs", "n", "how many", "label"):
        assert word in text
    assert list(tmp_path.iterdir()) == [nb]  # writes nothing


def test_inspect_shows_diagnostics(runner, write_nb):
    nb = write_nb([("imports", "import os"), ("step:a", "%matplotlib inline\nx = 1")], name="d")
    text = runner.invoke(app, ["inspect", str(nb)]).stdout
    assert "%matplotlib dropped" in text
    assert "not used by the pipeline" in text


def test_inspect_json(runner, write_nb):
    nb = write_nb(SIMPLE, name="simple")
    result = runner.invoke(app, ["inspect", str(nb), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["name"] == "simple"
    steps = {s["name"]: s for s in data["steps"]}
    assert list(steps) == ["make", "total"]
    assert steps["make"]["outputs"] == ["xs"] and steps["make"]["params"] == ["n"]
    assert steps["total"]["inputs"] == {"xs": "make"}
    assert steps["total"]["metrics"] == ["total"]
    assert steps["make"]["doc"] == "Build the numbers."
    params = {p["name"]: p for p in data["parameters"]}
    assert params["n"]["type"] == "int" and params["n"]["default"] == 3
    assert params["n"]["help"] == "how many"


def test_inspect_json_never_shows_secret_defaults(runner, write_nb):
    nb = write_nb([("parameters", "db_password = 'hunter2'"), ("step:a", "x = db_password")])
    result = runner.invoke(app, ["inspect", str(nb), "--json"])
    assert result.exit_code == 0
    assert "hunter2" not in result.stdout


def test_inspect_bad_notebook_exit_2(runner, tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    result = runner.invoke(app, ["inspect", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and str(bad) in result.stderr


def test_debug_shows_the_exception(runner, tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    result = runner.invoke(app, ["--debug", "inspect", str(bad)])
    assert result.exit_code != 0
    assert result.exception is not None
