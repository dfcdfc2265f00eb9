"""Helpers of the server extension's tests: small notebooks and polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat


def make_notebook(path: Path, cells: list[tuple[str, list[str], str]]) -> Path:
    """cells: (cell_type, tags, source)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, tags, source in cells:
        cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(
            source
        )
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


SMALL = [
    ("markdown", [], "# Small\n\nA tiny pipeline."),
    ("code", ["parameters"], "n: int = 4  # how many numbers"),
    ("markdown", [], "## Make the numbers"),
    ("code", ["step:make"], "xs = list(range(n))"),
    ("code", ["step:total"], "total = sum(xs)\nprint(total)"),
]


async def poll(call: Callable[..., Any], endpoint: str, timeout: float = 240, **params: str) -> Any:
    """GET an endpoint until it says done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        code, data = await call(endpoint, **params)
        assert code == 200, data
        if data.get("done"):
            return data
        assert loop.time() < deadline, f"{endpoint} not done after {timeout} s: {data}"
        await asyncio.sleep(0.3)
