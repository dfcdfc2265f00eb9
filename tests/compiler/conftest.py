"""Helpers of the compiler tests: notebooks built in memory with nbformat's v4 helpers
and written to tmp_path, then read, tagged, analysed or converted.

A cell is given as ``(tags, source)``: ``tags`` is a space-separated string (or a list) of
cell tags, ``""`` for none, or ``"md"`` for a markdown cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebooks import CellSpec, build_notebook

from nb2pipe import api
from nb2pipe.compiler.model import Pipeline


@pytest.fixture
def write_nb(tmp_path: Path) -> Callable[..., Path]:
    """write_nb(cells, name="nb", folder=tmp_path, kernelspec=None) -> path of the .ipynb."""

    def write(
        cells: Sequence[CellSpec],
        name: str = "nb",
        folder: Path | None = None,
        kernelspec: dict[str, str] | None = None,
    ) -> Path:
        target = (folder or tmp_path) / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_notebook(cells, kernelspec=kernelspec), target)
        return target

    return write


@pytest.fixture
def load_cells(write_nb: Callable[..., Path]) -> Callable[..., Pipeline]:
    """load_cells(cells, name="nb", split_on=None, strict=False) -> the analysed Pipeline."""

    def load(
        cells: Sequence[CellSpec],
        name: str = "nb",
        split_on: str | None = None,
        strict: bool = False,
    ) -> Pipeline:
        return api.load(write_nb(cells, name=name), split_on=split_on, strict=strict)

    return load


@pytest.fixture
def convert_cells(
    write_nb: Callable[..., Path], tmp_path: Path
) -> Callable[..., tuple[Pipeline, Path]]:
    """convert_cells(cells, name="nb", out=None, **convert options) -> (pipeline, package
    folder); the package is written to tmp_path/<name>_pkg unless `out` says otherwise."""

    def convert(
        cells: Sequence[CellSpec], name: str = "nb", out: Path | None = None, **options: Any
    ) -> tuple[Pipeline, Path]:
        path = write_nb(cells, name=name)
        pipe, folder, _files = api.convert(path, out or tmp_path / f"{name}_pkg", **options)
        return pipe, folder

    return convert


def warnings_of(pipe: Pipeline, code: str | None = None) -> list[str]:
    return [
        str(d)
        for d in pipe.diagnostics
        if d.severity == "warning" and (code is None or d.code == code)
    ]


@pytest.fixture
def warnings() -> Callable[..., list[str]]:
    """warnings(pipe, code=None) -> the warning diagnostics, as text."""
    return warnings_of
