"""The compiler and the runtime stay readable: no function over 100 lines and none of
radon's cyclomatic-complexity grade E or F (issue 18)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

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


CHECKS = {"length": long_functions, "complexity": complex_functions}


@pytest.mark.parametrize("part", ["compiler", "runtime"])
@pytest.mark.parametrize("check", CHECKS)
def test_the_compiler_and_the_runtime_pass(check: str, part: str) -> None:
    assert CHECKS[check](ROOT / "nb2pipe" / part) == []


TOO_LONG = "def f():\n" + "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
TOO_COMPLEX = "def f(x):\n" + "\n".join(
    f"    if x == {i}:\n        return {i}" for i in range(GRADE_E)
)


@pytest.mark.parametrize(
    ("check", "source", "found"),
    [
        ("length", TOO_LONG, "m.py:1 f (101)"),
        ("complexity", TOO_COMPLEX, f"m.py:1 f ({GRADE_E + 1})"),
    ],
)
def test_each_check_finds_its_function(tmp_path: Path, check: str, source: str, found: str) -> None:
    (tmp_path / "m.py").write_text(source + "\n", encoding="utf-8")
    assert CHECKS[check](tmp_path, tmp_path) == [found]
