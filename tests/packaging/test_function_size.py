"""The compiler and the runtime stay readable: no function over 100 lines and none of
radon's cyclomatic-complexity grade E or F (issue 18)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 100


def _sources(folder: Path, root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(folder.rglob("*.py")):
        yield path.relative_to(root), path.read_text(encoding="utf-8")


def long_functions(folder: Path, root: Path = ROOT) -> list[str]:
    found = []
    for rel, text in _sources(folder, root):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    found.append(f"{rel}:{node.lineno} {node.name} ({lines})")
    return found


def test_no_function_over_100_lines_in_the_compiler_and_the_runtime():
    assert long_functions(ROOT / "nb2pipe" / "compiler") == []
    assert long_functions(ROOT / "nb2pipe" / "runtime") == []


def test_the_check_finds_a_long_function(tmp_path: Path):
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n", encoding="utf-8")
    assert long_functions(tmp_path, tmp_path) == ["m.py:1 f (101)"]


GRADE_E = 31  # radon: A 1-5, B 6-10, C 11-20, D 21-30, E 31-40, F 41+


def complex_functions(folder: Path, root: Path = ROOT) -> list[str]:
    from radon.complexity import cc_visit
    from radon.visitors import Function

    return [
        f"{rel}:{block.lineno} {block.fullname} ({block.complexity})"
        for rel, text in _sources(folder, root)
        for block in cc_visit(text)  # methods are listed too
        if isinstance(block, Function) and block.complexity >= GRADE_E
    ]


def test_no_function_of_grade_e_or_f_in_the_compiler_and_the_runtime():
    assert complex_functions(ROOT / "nb2pipe" / "compiler") == []
    assert complex_functions(ROOT / "nb2pipe" / "runtime") == []


def test_the_check_finds_a_complex_function(tmp_path: Path):
    body = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(GRADE_E))
    (tmp_path / "m.py").write_text(f"def f(x):\n{body}\n", encoding="utf-8")
    assert complex_functions(tmp_path, tmp_path) == [f"m.py:1 f ({GRADE_E + 1})"]
