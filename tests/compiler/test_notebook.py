"""Reading notebooks: nbformat 4 (3 upgraded), jupytext percent scripts, the kernel
language, and the forms of damage a file can have."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from nb2pipe import api
from nb2pipe.compiler import notebook
from nb2pipe.errors import NotebookError


def _v4(cells: list[dict], metadata: dict | None = None, minor: int = 5) -> str:
    return json.dumps(
        {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": minor}
    )


def _code(source: str, tags: list[str] | None = None, **extra) -> dict:
    cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": []}
    cell["execution_count"] = None
    if tags:
        cell["metadata"]["tags"] = tags
    cell.update(extra)
    return cell


def test_reads_cells_tags_and_indices(write_nb):
    nb = notebook.read(write_nb([("md", "# T"), ("step:a", "x = 1"), ("", "y = x")]))
    assert [(c.index, c.cell_type, c.tags) for c in nb.cells] == [
        (1, "markdown", ()),
        (2, "code", ("step:a",)),
        (3, "code", ()),
    ]
    assert nb.name == "nb" and len(nb.sha256) == 64


def test_nbformat_3_is_upgraded(tmp_path):
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": "x = 1",
                        "language": "python",
                        "outputs": [],
                        "metadata": {"tags": ["step:a"]},
                    }
                ]
            }
        ],
    }
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    nb = notebook.read(path)
    assert [(c.source, c.tags) for c in nb.cells] == [("x = 1", ("step:a",))]


def test_missing_cell_ids_need_no_warning(tmp_path):
    path = tmp_path / "noid.ipynb"
    path.write_text(_v4([_code("x = 1", ["step:a"])]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nb = notebook.read(path)
    assert nb.cells[0].source == "x = 1"


def test_source_as_list_crlf_and_bom(tmp_path):
    path = tmp_path / "win.ipynb"
    text = _v4([_code(["x = 1\r\n", "y = 2\r\n"], id="a")])
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert notebook.read(path).cells[0].source == "x = 1\ny = 2\n"


def test_percent_script(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(
        "# %% tags=['parameters']\nn = 1\n\n# %% [markdown]\n# ## Train\n# Fit it.\n\n"
        "# %% tags=['step:train']\nm = n\n"
    )
    pipe = api.load(path)
    assert [s.name for s in pipe.steps] == ["train"]
    assert pipe.step("train").doc == "Fit it."
    assert [p.name for p in pipe.parameters] == ["n"]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.ipynb", "", "invalid JSON"),
        ("list.ipynb", "[1, 2]", "not a Jupyter notebook"),
        (
            "v5.ipynb",
            json.dumps({"cells": [], "nbformat": 5, "metadata": {}}),
            "nbformat version 5",
        ),
        ("cell.ipynb", _v4([{"cell_type": "code", "source": "x"}]), "invalid notebook"),
        ("tags.ipynb", _v4([_code("x", id="a") | {"metadata": {"tags": "step:a"}}]), "invalid"),
        ("deep.ipynb", "[" * 100_000, "nested too deeply"),
        ("plain.py", "x = 1\n", "percent"),
        ("notes.txt", "hello", "unsupported file type"),
        ("julia.ipynb", _v4([], {"language_info": {"name": "julia"}}), "not Python"),
    ],
)
def test_damaged_or_foreign_files(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(NotebookError, match=words) as info:
        notebook.read(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.ipynb"
    path.write_bytes(b'{"cells": [], "x": "\xe9"}')
    with pytest.raises(NotebookError, match="UTF-8"):
        notebook.read(path)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(NotebookError, match="directory"):
        notebook.read(tmp_path)
    with pytest.raises(NotebookError, match="no such file"):
        notebook.read(tmp_path / "missing.ipynb")


def test_invalid_cell_is_named(tmp_path):
    path = tmp_path / "cell.ipynb"
    path.write_text(_v4([_code("x = 1", id="a"), {"cell_type": "code", "source": "x"}]))
    with pytest.raises(NotebookError) as info:
        notebook.read(path)
    assert info.value.cell == 2


def test_kernel_without_language_is_python(tmp_path: Path):
    path = tmp_path / "k.ipynb"
    path.write_text(
        _v4(
            [_code("x = 1", ["step:a"], id="a")], {"kernelspec": {"name": "x", "display_name": "X"}}
        )
    )
    assert notebook.read(path).language == "python"
