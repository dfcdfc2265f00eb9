"""Bad input (SPEC section 5): exit code 2, one line on stderr naming the file, the cell
and the line where there is one, no traceback, and nothing written. One case each, run
through typer's CliRunner and through a real `nb2pipe convert` process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nb2pipe.frontends.cli import app


@dataclass(frozen=True)
class Bad:
    cells: list | None = None  # a notebook built from these cells, or
    raw: str | None = None  # these bytes, as nb.ipynb
    kernel: dict | None = None
    cell: int | None = None  # expected cell and line in the message
    line: int | None = None
    words: str = ""  # expected in the message


CASES = {
    "invalid-json": Bad(raw='{"cells": [', words="invalid JSON"),
    "not-a-notebook": Bad(
        raw=json.dumps({"name": "data", "rows": [1, 2]}), words="not a Jupyter notebook"
    ),
    "non-python-kernel": Bad(
        cells=[("step:a", "x <- 1")],
        kernel={"name": "ir", "language": "R", "display_name": "R"},
        words="not Python",
    ),
    "syntax-error": Bad(
        cells=[("step:a", "x = 1"), ("step:b", "y = 2\nz = = x\n")],
        cell=2,
        line=2,
        words="syntax error",
    ),
    "repeated-step-name": Bad(
        cells=[("step:a", "x = 1"), ("step:b", "y = x"), ("step:a", "z = y")], cell=3, words="'a'"
    ),
    "invalid-step-name": Bad(
        cells=[("step:a", "x = 1"), ("step:../etc", "y = x")], cell=2, words="'../etc'"
    ),
    "cycle": Bad(cells=[("step:a after:b", "x = 1"), ("step:b", "y = x")], cell=1, words="cycle"),
    "unknown-after-target": Bad(
        cells=[("step:a", "x = 1"), ("step:b after:nope", "y = x")], cell=2, words="after:nope"
    ),
    "undefined-name": Bad(
        cells=[("step:a", "x = 1"), ("step:b", "y = x\nz = y + missing")],
        cell=2,
        line=2,
        words="'missing'",
    ),
    "unknown-magic": Bad(cells=[("step:a", "x = 1\n%foo bar")], cell=1, line=2, words="%foo"),
}


@pytest.fixture
def bad_notebook(write_nb: Callable[..., Path], tmp_path: Path) -> Callable[[Bad], Path]:
    def make(case: Bad) -> Path:
        if case.raw is not None:
            path = tmp_path / "nb.ipynb"
            path.write_text(case.raw)
            return path
        return write_nb(case.cells, name="nb", kernelspec=case.kernel)

    return make


def check_message(stderr: str, path: Path, case: Bad) -> None:
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ")
    assert str(path) in stderr
    assert case.words in stderr
    cells = re.findall(r"\bcell (\d+)", stderr)
    lines = re.findall(r"\bline (\d+)", stderr)
    if case.cell is not None:
        assert cells[:1] == [str(case.cell)], stderr
    if case.line is not None:
        assert f"cell {case.cell}, line {case.line}:" in stderr, stderr
    elif case.cell is not None:
        assert lines == [], stderr  # a cell-level problem has no line


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_input_cli_runner(bad_notebook, tmp_path, case):
    path = bad_notebook(case)
    out = tmp_path / "out_pkg"
    result = CliRunner().invoke(app, ["convert", str(path), "-o", str(out)])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    check_message(result.stderr, path, case)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]  # no staging left


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_input_real_process(bad_notebook, tmp_path, case):
    path = bad_notebook(case)
    out = tmp_path / "out_pkg"
    exe = Path(sys.executable).with_name("nb2pipe")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "nb2pipe.frontends.cli"]
    proc = subprocess.run(
        [*command, "convert", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    check_message(proc.stderr, path, case)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.ipynb"
    result = CliRunner().invoke(app, ["convert", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    check_message(result.stderr, path, Bad(words="no such file"))


def test_bad_usage_is_exit_2(write_nb, tmp_path):
    path = write_nb([("step:a", "x = 1")])
    result = CliRunner().invoke(app, ["convert", str(path), "--split-on", "h9"])
    assert result.exit_code == 2
    assert not (tmp_path / "pipelines").exists()
