"""The tests' one notebook builder: notebooks made in memory with nbformat's v4 helpers.

A cell is ``(tags, source)``: ``tags`` a space-separated string (or a list, spaces kept)
of cell tags, ``""`` for none, or ``"md"`` for a markdown cell. Cell ids are fixed
(``cell-N``), so the same cells give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat
from nbformat import v4

CellSpec = tuple[Any, str]
PYTHON_KERNEL = {"name": "python3", "language": "python", "display_name": "Python 3"}


def build_notebook(
    cells: Iterable[CellSpec], *, kernelspec: dict[str, str] | None = None
) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = dict(kernelspec or PYTHON_KERNEL)
    nb.metadata["language_info"] = {"name": nb.metadata["kernelspec"].get("language", "python")}
    for n, (tags, source) in enumerate(cells):
        if tags == "md":
            cell = v4.new_markdown_cell(source)
        else:
            cell = v4.new_code_cell(source)
            words = tags.split() if isinstance(tags, str) else list(tags)
            if words:
                cell.metadata["tags"] = words
        cell["id"] = f"cell-{n}"
        nb.cells.append(cell)
    return nb


def write_notebook(
    path: Path, cells: Iterable[CellSpec], *, kernelspec: dict[str, str] | None = None
) -> Path:
    """Write the notebook of ``cells`` to ``path`` (folders made) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build_notebook(cells, kernelspec=kernelspec), path)
    return path
