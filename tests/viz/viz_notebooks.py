"""Small notebooks for the viz tests, written with nbformat (imported by name: the module
name is unique across the test folders, which have no __init__.py)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def code(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(path: Path, cells: list[nbformat.NotebookNode]) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nbformat.write(nb, path)
    return path


def demo(path: Path) -> Path:
    """make_data -> plot (a figure, a hostile log line) ; a gate on make_data; summarise ->
    check_summarise (fails when limit is small) -> finish."""
    return write(
        path,
        [
            new_markdown_cell("# Viz demo"),
            code("import matplotlib.pyplot as plt", "imports"),
            code("n = 20  # number of points\nlimit = 1000000000  # gate threshold", "parameters"),
            new_markdown_cell("Make the data."),
            code("xs = list(range(n))\nys = [x * x for x in xs]", "step:make_data"),
            code("assert len(xs) == n", "validate"),
            code(
                "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(xs, ys)\n"
                "print('<script>alert(1)</script> & </pre> done')",
                "step:plot",
            ),
            code("total = sum(ys)", "step:summarise"),
            code("total", "metrics"),
            code("assert total < limit, 'total too large'", "validate"),
            code("final = total * 2\nprint('final', final)", "step:finish"),
        ],
    )


def flow(path: Path) -> Path:
    """No headings, no step tags: steps come from the data flow."""
    return write(
        path,
        [
            code("import json"),
            code("seed = 3", "parameters"),
            code("raw = [seed, 1, 2, 3]"),
            code("raw.sort()"),
            code("print(raw)"),
            code("pairs = [(a, b) for a, b in zip(raw, raw[1:])]"),
            code("score = sum(a * b for a, b in pairs)\nprint(json.dumps(score))"),
        ],
    )
