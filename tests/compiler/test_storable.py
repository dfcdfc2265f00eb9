"""Values pickle cannot store (open files, connections, xgboost's DMatrix, generators) are
refused at convert time when a later step reads them (issue 19.4), not when the run
saves them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nb2pipe.errors import AnalysisError


@pytest.mark.parametrize(
    ("producer", "what", "fix"),
    [
        ("f = open('data.txt')", "an open file", "pass its path"),
        ("import sqlite3\nf = sqlite3.connect(':memory:')", "a database connection", "connect"),
        ("import xgboost as xgb\nf = xgb.DMatrix([[1.0]], label=[1.0])", "an xgboost DMatrix (it holds a C pointer)",
         "build the DMatrix in the step that trains"),
        ("from xgboost import DMatrix\nx = 1\nf = DMatrix([[1.0]])", "an xgboost DMatrix (it holds a C pointer)", "arrays"),
        ("f = (i * 2 for i in range(3))", "a generator", "make it a list"),
        ("def gen():\n    yield 1\n\n\nf = gen()", "a generator", "make it a list"),
    ],
)  # fmt: skip
def test_a_later_step_reading_an_unstorable_value_is_an_error(load_cells, producer, what, fix):
    cells = [("step:make", producer), ("step:use", "print(f)")]
    with pytest.raises(AnalysisError) as info:
        load_cells(cells)
    err = info.value
    line = producer.count("\n") + 1
    assert (err.cell, err.line) == (1, line)
    assert err.message == f"'f' is {what}, which cannot be stored for step 'use' to read"
    assert fix in (err.hint or "")


def test_a_value_reassigned_to_something_storable_is_fine(load_cells):
    cells = [
        ("step:make", "f = open('x.txt', 'w')\nf.write('1')\nf.close()\nf = 'x.txt'"),
        ("step:use", "print(f)"),
    ]
    assert load_cells(cells).step("use").inputs == {"f": "make"}


def test_a_terminal_step_leaves_unstorable_names_out(load_cells, warnings):
    cells = [
        ("imports", "import sqlite3"),
        ("step:last", "db = sqlite3.connect(':memory:')\nn = 1"),
    ]
    pipe = load_cells(cells)
    assert pipe.step("last").outputs == ("n",)
    assert warnings(pipe) == []


def test_a_model_tag_on_an_unstorable_value_is_a_warning(load_cells, warnings):
    cells = [
        ("imports", "import xgboost as xgb"),
        ("step:prep model:data", "data = xgb.DMatrix([[1.0]], label=[1.0])"),
    ]
    [w] = warnings(load_cells(cells), "unstorable")
    assert w.startswith("warning: cell 2, line 1: 'data' is an xgboost DMatrix")


def test_convert_refuses_in_one_line(write_nb, tmp_path):
    nb = write_nb([("step:a", "handle = open('nb.ipynb')"), ("step:b", "text = handle.read()")])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nb2pipe.frontends.cli",
            "convert",
            str(nb),
            "-o",
            str(tmp_path / "pkg"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {nb}, cell 1, line 1: 'handle' is an open file")
    assert "Traceback" not in proc.stderr and not (tmp_path / "pkg").exists()
