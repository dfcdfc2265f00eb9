"""Every file in tests/bad_inputs/inputs through `nb2pipe convert` (SPEC section 5).

Each input either converts correctly (exit 0; every generated .py compiles, passes `ruff
check` and `ruff format --check` with the generated ruff.toml, `convert --check` finds it
byte-identical, and the package runs where the case says so, leaving no trace of any
payload), or fails with exit 2 and exactly one line on stderr naming the file (and the
cell and line where there is one), no traceback, and nothing written: neither the -o
folder nor its missing parent nor a staging folder beside it.

Most go through typer's CliRunner (fast); the cases marked `real_process` also through a
real `nb2pipe convert` process. The 50 MB inputs are generated here.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bad_input_cases import INPUTS, MARKER, Case, cases, nb_bytes
from typer.testing import CliRunner

from nb2pipe.codegen.package import ruff_bin
from nb2pipe.frontends.cli import app

CASES = {c.name: c for c in cases()}
ERRORS = [c for c in CASES.values() if not c.converts]
CONVERTS = [c for c in CASES.values() if c.converts]
REAL = [c for c in CASES.values() if c.real_process]


def _nb2pipe() -> list[str]:
    exe = Path(sys.executable).with_name("nb2pipe")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "nb2pipe.frontends.cli"]


def stage(case: Case, tmp_path: Path) -> tuple[Path, Path]:
    """The input copied to tmp_path/in/ (under its hostile name if it has one); the
    output folder tmp_path/out/pkg, whose parent does not exist yet."""
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / (case.shown_as or case.name)
    path.write_bytes(case.data)
    return path, tmp_path / "out" / "pkg"


def convert_in_process(path: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["convert", str(path), "-o", str(out), *extra])
    return result.exit_code, result.stdout, result.stderr


def convert_real(path: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [*_nb2pipe(), "convert", str(path), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def check_refused(case: Case, path: Path, result: tuple[int, str, str], tmp_path: Path) -> None:
    code, stdout, stderr = result
    assert code == 2, (code, stdout, stderr)
    assert stdout == ""
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert str(path) in stderr, stderr
    assert case.error is not None and case.error in stderr, stderr
    if case.line is not None:
        assert f"cell {case.cell}, line {case.line}:" in stderr, stderr
    elif case.cell is not None:
        assert f"cell {case.cell}" in stderr, stderr
    # Nothing written: not the package, not its parent, no staging folder beside it.
    assert sorted(os.listdir(tmp_path)) == ["in"]
    assert os.listdir(tmp_path / "in") == [path.name]


def check_package(pkg: Path) -> None:
    """Every generated .py compiles; the package passes ruff with its own rule set."""
    sources = sorted(pkg.rglob("*.py"))
    assert sources, pkg
    for source in sources:
        text = source.read_text(encoding="utf-8")
        compile(ast.parse(text, str(source)), str(source), "exec", dont_inherit=True)
    config = str(pkg / "ruff.toml")
    for command in (["check"], ["format", "--check"]):
        proc = subprocess.run(
            [ruff_bin(), *command, "--no-cache", "--config", config, str(pkg)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def markers(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"*{MARKER}*") if p.name.startswith(MARKER)]


def run_package(pkg: Path, *params: str) -> subprocess.CompletedProcess[str]:
    options = [arg for p in params for arg in ("-p", p)]
    return subprocess.run(
        [sys.executable, "-m", pkg.name, "--runs-dir", str(pkg.parent / "runs"), *options],
        cwd=pkg.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def check_converted(case: Case, path: Path, result: tuple[int, str, str], tmp_path: Path) -> None:
    code, stdout, stderr = result
    assert code == 0, (stdout, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    pkg = tmp_path / "out" / "pkg"
    assert sorted(os.listdir(tmp_path / "out")) == ["pkg"]  # no staging folder left
    check_package(pkg)
    # Byte-identical when converted again (what `convert --check` compares).
    again = convert_in_process(path, pkg, "--check", "-q")
    assert again[0] == 0, again
    if case.run:
        proc = run_package(pkg, *case.params)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
    assert markers(tmp_path) == []


def test_there_are_at_least_40_inputs() -> None:
    assert len(CASES) >= 40
    assert len(ERRORS) >= 30 and len(CONVERTS) >= 15


def test_committed_inputs_are_the_generated_ones() -> None:
    """inputs/ holds exactly what bad_input_cases.py writes (run it to refresh)."""
    on_disk = {p.name: p.read_bytes() for p in INPUTS.iterdir()}
    assert on_disk == {name: c.data for name, c in CASES.items()}


@pytest.mark.parametrize("case", ERRORS, ids=[c.name for c in ERRORS])
def test_refused_in_one_line(case: Case, tmp_path: Path) -> None:
    path, out = stage(case, tmp_path)
    check_refused(case, path, convert_in_process(path, out), tmp_path)


@pytest.mark.parametrize("case", CONVERTS, ids=[c.name for c in CONVERTS])
def test_converts_correctly(case: Case, tmp_path: Path) -> None:
    path, out = stage(case, tmp_path)
    check_converted(case, path, convert_in_process(path, out), tmp_path)


@pytest.mark.integration
@pytest.mark.parametrize("case", REAL, ids=[c.name for c in REAL])
def test_real_convert_process(case: Case, tmp_path: Path) -> None:
    path, out = stage(case, tmp_path)
    result = convert_real(path, out)
    if case.converts:
        check_converted(case, path, result, tmp_path)
    else:
        check_refused(case, path, result, tmp_path)


def test_check_of_a_refused_input_writes_nothing(tmp_path: Path) -> None:
    case = CASES["step_traversal.ipynb"]
    path, out = stage(case, tmp_path)
    check_refused(case, path, convert_in_process(path, out, "--check"), tmp_path)


def test_refused_input_leaves_an_existing_package_untouched(tmp_path: Path) -> None:
    good, bad = CASES["unicode.ipynb"], CASES["break_outside_loop.ipynb"]
    path, out = stage(good, tmp_path)
    assert convert_in_process(path, out)[0] == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    path.write_bytes(bad.data)
    code, _, stderr = convert_in_process(path, out)
    assert code == 2 and bad.error in stderr
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    assert sorted(os.listdir(out.parent)) == ["pkg"]


# --- 50 MB inputs, generated here ---------------------------------------------------------

FIFTY_MB = 50 * 2**20


@pytest.mark.integration
def test_fifty_megabyte_code_cell(tmp_path: Path) -> None:
    blob = "0123456789abcdef" * (FIFTY_MB // 16)
    data = nb_bytes([("step:a", f"blob = '{blob}'\nsize = len(blob)"), ("step:b", "n = size")])
    assert len(data) > FIFTY_MB
    case = Case("fifty_mb_cell.ipynb", data, "a 50 MB code cell")
    path, out = stage(case, tmp_path)
    del blob, data
    code, stdout, stderr = convert_in_process(path, out)
    assert code == 0, stderr
    step = (out / "steps" / "a.py").read_text(encoding="utf-8")
    assert len(step) > FIFTY_MB
    compile(step, "a.py", "exec", dont_inherit=True)
    assert sorted(os.listdir(tmp_path / "out")) == ["pkg"]


@pytest.mark.integration
def test_fifty_megabyte_outputs_and_large_markdown(tmp_path: Path) -> None:
    """Outputs are never read into the package; a 5 MB markdown cell becomes docs."""
    nb = json.loads(
        nb_bytes([("md", "m" * (FIFTY_MB // 10)), ("step:a", "x = 1"), ("step:b", "y = x")])
    )
    nb["cells"][1]["outputs"] = [
        {"name": "stdout", "output_type": "stream", "text": "o" * FIFTY_MB}
    ]
    case = Case("fifty_mb_outputs.ipynb", json.dumps(nb).encode(), "50 MB of outputs")
    del nb
    path, out = stage(case, tmp_path)
    check_converted(case, path, convert_in_process(path, out), tmp_path)
    assert "m" * 1000 in (out / "steps" / "a.py").read_text(encoding="utf-8")
    assert "o" * 1000 not in "".join(p.read_text() for p in out.rglob("*.py"))


def test_unreadable_and_missing_paths(tmp_path: Path) -> None:
    """A folder, a missing file and a dangling symlink as the notebook."""
    (tmp_path / "in").mkdir()
    folder = tmp_path / "in" / "folder.ipynb"
    folder.mkdir()
    link = tmp_path / "in" / "dangling.ipynb"
    link.symlink_to(tmp_path / "in" / "gone.ipynb")
    for path, words in (
        (folder, "is a directory"),
        (tmp_path / "in" / "missing.ipynb", "no such file"),
        (link, "no such file"),
    ):
        code, stdout, stderr = convert_in_process(path, tmp_path / "out" / "pkg")
        assert code == 2 and stdout == "" and stderr.count("\n") == 1, stderr
        assert words in stderr and str(path) in stderr
    assert sorted(os.listdir(tmp_path)) == ["in"]
    shutil.rmtree(tmp_path / "in")
