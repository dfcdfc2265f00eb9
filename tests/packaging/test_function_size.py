"""The compiler and the runtime stay readable: no function over 100 lines (issue 18)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 100


def long_functions(folder: Path, root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines})")
    return found


def test_no_function_over_100_lines_in_the_compiler_and_the_runtime():
    assert long_functions(ROOT / "nb2pipe" / "compiler") == []
    assert long_functions(ROOT / "nb2pipe" / "runtime") == []


def test_the_check_finds_a_long_function(tmp_path: Path):
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n", encoding="utf-8")
    assert long_functions(tmp_path, tmp_path) == ["m.py:1 f (101)"]
