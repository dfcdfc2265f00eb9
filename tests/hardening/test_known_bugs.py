"""Bugs the hardening work found in the analysis, runtime and run views, each as its
smallest reproduction. All are fixed; the tests stay as regression tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hardening_helpers import write_notebook
from typer.testing import CliRunner

from nb2pipe import api
from nb2pipe.frontends.cli import app
from nb2pipe.runtime import run


def _run_converted(tmp_path: Path, cells: list, name: str) -> object:
    import importlib
    import sys

    path = write_notebook(tmp_path / "nb.ipynb", cells)
    api.convert(path, tmp_path / name)
    sys.path.insert(0, str(tmp_path))
    try:
        pipeline = importlib.import_module(f"{name}.pipeline").PIPELINE
        return run(pipeline, runs_dir=tmp_path / "runs", progress="none")
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


def test_name_bound_only_in_a_loop_of_two_steps(tmp_path: Path) -> None:
    cells = [
        ("step:a", "for i in range(0):\n    pass"),
        ("step:b", "for i in range(0):\n    pass"),
    ]
    result = _run_converted(tmp_path, cells, "loop_pkg")
    assert result.status == "ok", result.error  # the notebook runs without an error


@pytest.mark.parametrize("source", ["p = 1  # see [/] here", "p = '[/]'"])
def test_inspect_prints_notebook_text_verbatim(tmp_path: Path, source: str) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [("parameters", source), ("step:s", "x = p")])
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "[/]" in result.stdout


@pytest.mark.parametrize(
    "record",
    ['{"steps": {"make": "ok"}}', '{"steps": {}, "metrics": [1]}'],
    ids=["step", "metrics"],
)
def test_runs_list_copes_with_a_record_of_the_wrong_shape(tmp_path: Path, record: str) -> None:
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "run.json").write_text(record)
    result = CliRunner().invoke(app, ["runs", "list", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.stderr


def test_long_operator_chain_converts(tmp_path: Path) -> None:
    source = "x = " + " + ".join(["1"] * 1200)
    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", source), ("step:b", "y = x")])
    api.convert(path, tmp_path / "pkg")  # raises RecursionError today


def test_store_option_naming_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib
    import sys

    from nb2pipe.runtime import main

    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1")])
    api.convert(path, tmp_path / "storepkg")
    (tmp_path / "afile").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        pipeline = importlib.import_module("storepkg.pipeline").PIPELINE
        code = main(
            pipeline, ["--runs-dir", str(tmp_path / "runs"), "--store", str(tmp_path / "afile")]
        )
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m.startswith("storepkg")]:
            del sys.modules[mod]
    err = capsys.readouterr().err
    assert code == 2 and "already exists" not in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_star_import_reaches_shared_functions(tmp_path: Path) -> None:
    cells = [
        ("imports", "from os.path import *"),
        ("functions", "def f(p):\n    return join(p, 'x')"),
        ("step:a", "y = f('a')"),
    ]
    result = _run_converted(tmp_path, cells, "star_pkg")
    assert result.status == "ok", result.error


@pytest.mark.parametrize(
    "cells",
    [
        [("step:a", "def f():\n    return missing_name\nx = 1")],
        [("skip", "import os"), ("step:a", "def f():\n    return os.sep\nx = 1")],
    ],
    ids=["nowhere", "skip-cell"],
)
def test_function_in_a_step_reading_an_undefined_name(tmp_path: Path, cells: list) -> None:
    from hardening_helpers import check_package

    from nb2pipe.errors import Nb2pipeError

    path = write_notebook(tmp_path / "nb.ipynb", cells)
    try:
        api.convert(path, tmp_path / "pkg")
    except Nb2pipeError:
        return  # refused, as a functions cell is: fine
    check_package(tmp_path / "pkg")  # F821 today


def test_display_line_of_an_undefined_name(tmp_path: Path) -> None:
    from nb2pipe.errors import Nb2pipeError

    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1\nmissing_name")])
    with pytest.raises(Nb2pipeError):
        api.convert(path, tmp_path / "pkg", strict=True)


def test_step_changing_a_parameter_in_place(tmp_path: Path) -> None:
    cells = [
        ("parameters", "flags = [1, 2]"),
        ("step:b", "flags.append(1)\nw = len(flags)"),
        ("step:c", "y = len(flags)"),
    ]
    result = _run_converted(tmp_path, cells, "param_pkg")
    assert result.status == "ok", result.error


def test_input_changed_in_place_that_no_later_step_reads(tmp_path: Path) -> None:
    cells = [("step:a", "b = [3]"), ("step:l", "b.append(1)\nx = 1"), ("step:c", "y = x")]
    result = _run_converted(tmp_path, cells, "guard_pkg")
    assert result.status == "ok", result.error
