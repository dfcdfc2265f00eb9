"""Names that collide, through the real CLI: a run id naming the store's or the registry's
folder, two step tags that are one step after normalisation, dunder parameters, steps
named like builtins, a model named like the registry's own file, names ending in a
newline, and (by reading the source) no `^...$` pattern checked with `re.match`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hardening_helpers import write_notebook

EXE = Path(sys.executable).with_name("nb2pipe")
REPO = Path(__file__).resolve().parents[2]


def cli(*args: Any, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120,
        check=False,
    )  # fmt: skip


def one_line_error(proc: Any, *words: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def package(tmp_path: Path) -> Path:
    nb = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1")])
    assert cli("convert", nb, "-o", tmp_path / "pkg").returncode == 0
    return tmp_path / "pkg"


@pytest.mark.parametrize("run_id", ["registry", "store", "Registry", "STORE.", "models"])
def test_run_id_naming_a_folder_of_the_runs_dir_is_refused(package: Path, run_id: str) -> None:
    runs = package.parent / "runs"
    proc = cli("run", package, "--runs-dir", runs, "--registry", runs / "models",
               "--run-id", run_id)  # fmt: skip
    one_line_error(proc, f"--run-id {run_id!r}", "choose another")
    assert not runs.exists() or sorted(p.name for p in runs.iterdir()) == []


def test_run_id_ending_in_a_newline_is_refused(package: Path) -> None:
    one_line_error(cli("run", package, "--run-id", "nightly\n"), "use letters, digits")
    ok = cli("run", package, "--run-id", "nightly", "--runs-dir", package.parent / "runs")
    assert ok.returncode == 0, ok.stderr
    assert (package.parent / "runs" / "nightly" / "run.json").is_file()


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        ([("step:a-b", "x = 1"), ("step:a_b", "y = x")], ["'a-b' (cell 1) and 'a_b'", "cell 2"]),
        (
            [("step:a-b", "x = 1"), ("step:c", "z = 1"), ("step:a_b", "y = x")],
            ["'a_b' appears again", "'a-b' in cell 1", "cell 3"],
        ),
        ([("step:Prep", "x = 1"), ("step:prep", "y = x")], ["differs only in case", "cell 1"]),
    ],
)
def test_step_tags_that_are_one_step_after_normalisation(
    tmp_path: Path, cells: list[Any], words: list[str]
) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", cells)
    one_line_error(cli("convert", nb, "-o", tmp_path / "pkg"), *words)
    assert not (tmp_path / "pkg").exists()


def test_a_step_tag_repeated_with_the_same_spelling_continues_the_step(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [("block:a-b", "x = 1"), ("block:a-b", "y = x")])
    proc = cli("inspect", nb, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [s["name"] for s in json.loads(proc.stdout)["steps"]] == ["a_b"]


@pytest.mark.parametrize("name", ["__name__", "__builtins__", "__file__"])
def test_dunder_parameters_are_refused(tmp_path: Path, name: str) -> None:
    nb = write_notebook(
        tmp_path / "nb.ipynb", [("parameters", f"n = 1\n{name} = 'x'"), ("step:a", "y = n")]
    )
    one_line_error(cli("convert", nb, "-o", tmp_path / "pkg"), repr(name), "cell 1, line 2")
    assert not (tmp_path / "pkg").exists()


def test_steps_named_like_builtins_they_call_run(tmp_path: Path) -> None:
    names = ["print", "len", "sum", "format", "map", "sorted"]
    body = {
        "print": "print('hello')",
        "len": "n = len([1, 2, 3])",
        "sum": "s = sum([n, 1])",
        "format": "text = format(s, '03d')\nprint(text)",
        "map": "doubled = list(map(lambda v: v * 2, [s]))",
        "sorted": "order = sorted([3, 1, 2])\nprint(len(order), sum(order))",
    }
    nb = write_notebook(tmp_path / "nb.ipynb", [(f"step:{n}", body[n]) for n in names])
    assert cli("convert", nb, "-o", tmp_path / "pkg").returncode == 0
    proc = subprocess.run(
        [sys.executable, "-m", "pkg", "--runs-dir", "runs", "--run-id", "r"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "runs" / "r" / "run.json").read_text())
    assert {s: record["steps"][s]["status"] for s in names} == dict.fromkeys(names, "ok")
    assert "def print_step(" in (tmp_path / "pkg" / "steps" / "print.py").read_text()


@pytest.mark.parametrize("tag", ["model:REGISTRY", "model:registry"])
def test_a_model_named_like_the_registry_file_is_refused(tmp_path: Path, tag: str) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [(f"step:train {tag}", "m = [1]")])
    one_line_error(cli("convert", nb, "-o", tmp_path / "pkg"), "registry's own file", "cell 1")


def test_an_output_folder_ending_in_a_newline_is_refused(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1")])
    one_line_error(cli("convert", nb, "-o", tmp_path / "pkg\n"), "not a Python identifier")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]


def _anchored_patterns(tree: ast.Module) -> set[str]:
    """Names bound to re.compile("^...$")."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if (
                isinstance(call.func, ast.Attribute)
                and call.func.attr == "compile"
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and str(call.args[0].value).endswith("$")
            ):
                out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return out


def test_no_end_anchored_pattern_is_checked_with_match() -> None:
    """`re.match("^name$", "name\\n")` matches: checks use fullmatch."""
    files = [*(REPO / "nb2pipe").rglob("*.py"), *(REPO / "jupyterlab" / "nb2pipe_lab").glob("*.py")]
    trees = {path: ast.parse(path.read_text()) for path in files}
    anchored = set().union(*(_anchored_patterns(t) for t in trees.values()))
    assert {"IDENT", "NAME_RE", "_RUN_ID", "JOB_ID", "_HASH"} <= anchored  # the scan sees them
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "match":
                continue
            target = node.func.value
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            literal = node.args[0] if node.args else None
            if name in anchored or (
                name == "re"
                and isinstance(literal, ast.Constant)
                and str(literal.value).endswith("$")
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []
