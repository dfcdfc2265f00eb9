"""Parameters where a user expects them: --help lists them (python -m and nb2pipe run),
an untagged notebook's first cell of literals is the parameters cell, `nb2pipe tag`
proposes role tags; and a secret whose variable is unset stops the run before any step."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from project_helpers import environ, sh, write_notebook

SECRET = [
    ("imports", "import json"),
    (
        "parameters",
        'data_path = "data.json"  # the training data\n'
        "shift: float = 0.0  # added to the cut\n"
        "tags = ['a', 'b']\n"
        "max_depth: int | None = None\n"
        'api_token = "do-not-show"  # secret, to call the service',
    ),
    ("step:load", "with open(data_path) as f:\n    values = json.load(f)['values']"),
    ("step:call", "answer = len(api_token) + len(values) + shift"),
]


@pytest.fixture
def secret_pkg(tmp_path: Path) -> Path:
    write_notebook(tmp_path / "svc.ipynb", SECRET)
    (tmp_path / "data.json").write_text('{"values": [1, 2]}')
    assert sh(tmp_path, "nb2pipe", "convert", "svc.ipynb", "-o", "svc").returncode == 0
    return tmp_path


@pytest.mark.integration
def test_help_lists_the_parameters(secret_pkg: Path) -> None:
    expected = [
        "parameters of svc (-p NAME=VALUE):",
        "  data_path  str          default 'data.json'  the training data",
        "  shift      float        default 0.0          added to the cut",
        "  tags       list         default ['a', 'b']",
        "  max_depth  int or null  default None",
        "  api_token  secret       from $API_TOKEN      to call the service",
    ]
    for cmd in (["python", "-m", "svc", "--help"], ["nb2pipe", "run", "svc", "--help"]):
        shown = sh(secret_pkg, *cmd)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        start = lines.index(expected[0])
        assert lines[start : start + len(expected)] == expected
        assert "do-not-show" not in shown.stdout
    assert "usage: nb2pipe run svc" in sh(secret_pkg, "nb2pipe", "run", "svc", "-h").stdout


@pytest.mark.integration
def test_an_unset_secret_stops_the_run_before_any_step(secret_pkg: Path) -> None:
    refused = sh(secret_pkg, "python", "-m", "svc", "--run-id", "r")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: secret parameter 'api_token' is read from the environment variable "
        "API_TOKEN, which is not set: set it (export API_TOKEN=...) and run again"
    )
    assert not (secret_pkg / "runs" / "r").exists()
    only_load = sh(secret_pkg, "nb2pipe", "run", "svc", "--only", "load", "-q")
    assert only_load.returncode == 0, only_load.stderr  # no step to run reads it
    ran = sh(secret_pkg, "python", "-m", "svc", "-q", env=environ(API_TOKEN="abcd"))
    assert ran.returncode == 0, ran.stderr


UNTAGGED = [
    ("", "import json"),
    ("", "threshold = 5  # the cut\nlabel = 'values'"),
    ("md", "## Load"),
    ("", "values = json.loads('[1, 7, 9]')"),
    ("md", "## Count"),
    ("", "above = sum(v > threshold for v in values)\nprint(label, above)"),
]


@pytest.mark.integration
def test_an_untagged_notebooks_literal_cell_is_its_parameters(tmp_path: Path) -> None:
    write_notebook(tmp_path / "plain.ipynb", UNTAGGED)
    inspected = sh(tmp_path, "nb2pipe", "inspect", "plain.ipynb", "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert '"name": "threshold"' in inspected.stdout
    shown = " ".join(sh(tmp_path, "nb2pipe", "inspect", "plain.ipynb").stdout.split())
    assert (
        "note: cell 2: no cell is tagged `parameters`: this first cell of literal assignments "
        "is taken as the parameters" in shown
    )
    assert sh(tmp_path, "nb2pipe", "convert", "plain.ipynb", "-o", "plain").returncode == 0
    ran = sh(tmp_path, "python", "-m", "plain", "-p", "threshold=8", "-v")
    assert ran.returncode == 0, ran.stderr
    assert "values 1" in ran.stdout


@pytest.mark.integration
def test_tag_proposes_roles_as_well_as_steps(tmp_path: Path) -> None:
    cells = [
        ("", "import json\nimport matplotlib.pyplot as plt"),
        ("", "n = 5  # how many\nscale = 2.0"),
        ("", "values = [i * scale for i in range(n)]"),
        ("", "values[:3]"),
        ("", "plt.plot(values)\nplt.show()"),
        ("", "total = sum(values)\nmean_error = abs(total / n - scale * 2)"),
        ("", "print(mean_error)"),
    ]
    write_notebook(tmp_path / "raw.ipynb", cells)
    done = sh(tmp_path, "nb2pipe", "tag", "raw.ipynb")
    assert done.returncode == 0, done.stderr
    assert "cell   2  parameters" in done.stdout and "cell   7  metrics" in done.stdout
    nb = nbformat.read(tmp_path / "raw.tagged.ipynb", as_version=4)
    assert [c.metadata.get("tags", []) for c in nb.cells] == [
        ["imports"], ["parameters"], ["step:make_values"], ["skip"], ["skip"],
        ["step:make_mean_error"], ["metrics"],
    ]  # fmt: skip
    inspected = sh(tmp_path, "nb2pipe", "inspect", "raw.tagged.ipynb", "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert '"mean_error"' in inspected.stdout
