"""Reading notebooks: the only module that imports nbformat (and jupytext, lazily).

Accepts nbformat 4.x ``.ipynb`` files (3.x is upgraded; anything else is refused) and
jupytext percent-format ``.py`` files. The kernel language must be Python.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Any

from nb2pipe.compiler.model import Cell, Notebook
from nb2pipe.errors import NotebookError

#: Largest notebook file we read (bytes); beyond this the user is told to split it.
MAX_BYTES = 256 * 1024 * 1024


def read(path: str | Path) -> Notebook:
    """Read and validate a notebook; raise NotebookError naming the file on any problem."""
    p = Path(path)
    shown = str(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise NotebookError("no such file", file=shown, hint="check the path") from None
    except IsADirectoryError:
        raise NotebookError("is a directory, not a notebook", file=shown) from None
    except OSError as exc:
        raise NotebookError(f"cannot read the file: {exc.strerror}", file=shown) from None
    if len(data) > MAX_BYTES:
        raise NotebookError(
            f"the file is {len(data) // 2**20} MB, above the {MAX_BYTES // 2**20} MB limit",
            file=shown,
        )
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(
            f"not valid UTF-8 (byte {exc.start})", file=shown, hint="save the notebook as UTF-8"
        ) from None
    if p.suffix == ".py":
        nb = _read_percent_py(text, shown)
    elif p.suffix in (".ipynb", ".json") or text.lstrip().startswith("{"):
        nb = _read_ipynb(text, shown)
    else:
        raise NotebookError(
            f"unsupported file type {p.suffix or '(none)'}",
            file=shown,
            hint="give a .ipynb notebook or a jupytext percent-format .py file",
        )
    _check_language(nb, shown)
    cells = tuple(_cell(i, c, shown) for i, c in enumerate(nb.get("cells", []), start=1))
    return Notebook(path=shown, name=p.stem, cells=cells, sha256=sha)


def _read_ipynb(text: str, shown: str) -> Any:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            file=shown,
            hint="the file is damaged; restore it or re-save it from Jupyter",
        ) from None
    except RecursionError:
        raise NotebookError("invalid JSON: nested too deeply", file=shown) from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise NotebookError(
            f"invalid JSON: {' '.join(str(exc).split())[:120]}", file=shown
        ) from None
    major = raw.get("nbformat") if isinstance(raw, dict) else None
    body = "worksheets" if major == 3 else "cells"  # nbformat 3 keeps cells in worksheets
    if not isinstance(raw, dict) or body not in raw or "nbformat" not in raw:
        raise NotebookError(
            f"not a Jupyter notebook (no {body!r} or 'nbformat' key)",
            file=shown,
            hint="give a .ipynb file saved by Jupyter",
        )
    if not isinstance(major, int) or major not in (3, 4):
        raise NotebookError(
            f"unsupported nbformat version {major!r}",
            file=shown,
            hint="nb2pipe reads nbformat 4 (and upgrades 3); re-save the notebook in Jupyter",
        )
    minor = raw.get("nbformat_minor", 0)
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise NotebookError(
            f"invalid notebook: nbformat_minor is {str(minor)[:20]!r}, not an integer",
            file=shown,
            hint="re-save it from Jupyter",
        )
    _check_cells(raw.get(body), body, shown)
    import nbformat

    try:
        with warnings.catch_warnings():  # e.g. missing cell ids: not the user's concern here
            warnings.simplefilter("ignore")
            nb = nbformat.from_dict(raw)
            if major == 3:
                nb = nbformat.convert(nb, 4)
            nbformat.validate(nb, version=4)
    except nbformat.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "the notebook"
        message = str(exc.message).splitlines()[0][:200]
        raise NotebookError(
            f"invalid notebook at {where}: {message}",
            file=shown,
            cell=_cell_of(exc.absolute_path),
            hint="re-save it from Jupyter or fix the metadata",
        ) from None
    except RecursionError:
        raise NotebookError("invalid notebook: nested too deeply", file=shown) from None
    except Exception as exc:  # nbformat raises assorted errors on damaged input
        detail = " ".join(str(exc).split())[:200] or "its structure is damaged"
        raise NotebookError(
            f"invalid notebook: {type(exc).__name__}: {detail}",
            file=shown,
            hint="re-save it from Jupyter",
        ) from None
    return nb


def _check_cells(cells: Any, body: str, shown: str) -> None:
    """The shape nbformat relies on before it validates: a list of objects."""
    if body == "worksheets":
        if not isinstance(cells, list) or not all(isinstance(w, dict) for w in cells):
            raise NotebookError(
                "invalid notebook: 'worksheets' is not a list of objects", file=shown
            )
        return
    if not isinstance(cells, list):
        raise NotebookError(
            f"invalid notebook: 'cells' is {type(cells).__name__}, not a list", file=shown
        )
    for n, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise NotebookError(
                f"invalid notebook: the cell is {type(cell).__name__}, not an object",
                file=shown,
                cell=n,
                hint="re-save it from Jupyter",
            )
        _check_tags(cell, n, shown)


def _check_tags(cell: dict[str, Any], n: int, shown: str) -> None:
    """Tags are strings: checked before nbformat validates, whose uniqueness check of
    unhashable items (a tag that is a list) is quadratic (minutes for a 50 KB notebook)."""
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    for tag in tags if isinstance(tags, list) else ():
        if not isinstance(tag, str):
            raise NotebookError(
                f"invalid notebook: a tag is {type(tag).__name__}, not a string",
                file=shown,
                cell=n,
                hint="tags are a list of strings; fix the cell's tags",
            )


def _cell_of(path: Any) -> int | None:
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "cells" and isinstance(parts[1], int):
        return parts[1] + 1
    return None


def _read_percent_py(text: str, shown: str) -> Any:
    if not re.search(r"^# %%", text, flags=re.MULTILINE):
        raise NotebookError(
            "not a jupytext percent-format script (no '# %%' cell markers)",
            file=shown,
            hint="mark cells with '# %%' or convert it with `jupytext --to ipynb`",
        )
    import jupytext

    try:
        nb = jupytext.reads(text, fmt="py:percent")
    except Exception as exc:  # jupytext raises assorted errors on a damaged header or tags
        detail = " ".join(str(exc).split())[:200]
        raise NotebookError(
            f"cannot read the percent script: {type(exc).__name__}: {detail}",
            file=shown,
            hint="check the '# %%' lines' tags=[...] and the YAML header",
        ) from None
    return nb


def _check_language(nb: Any, shown: str) -> None:
    meta = nb.get("metadata") or {}
    kernelspec = meta.get("kernelspec") or {}
    info = meta.get("language_info") or {}
    language = kernelspec.get("language") or info.get("name") or "python"
    if not isinstance(language, str) or language.lower() not in ("python", "python3"):
        name = kernelspec.get("name") or language
        raise NotebookError(
            f"the kernel is {str(name)[:40]!r} ({str(language)[:40]}), not Python",
            file=shown,
            hint="nb2pipe converts Python notebooks only",
        )


def _cell(index: int, cell: Any, shown: str) -> Cell:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    tags = tuple(str(t) for t in (cell.get("metadata") or {}).get("tags") or ())
    for what, text in [("the source", source), *(("a tag", t) for t in tags)]:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate, from a JSON escape such as \ud800
            raise NotebookError(
                f"{what} holds invalid Unicode ({text[exc.start]!r} at character {exc.start})",
                file=shown,
                cell=index,
                hint="remove the character or re-save the notebook from Jupyter",
            ) from None
    return Cell(
        index=index,
        cell_type=cell.get("cell_type", "code"),
        # Python reads a lone \r as a line break too; ast and ruff must see the same lines.
        source=source.replace("\r\n", "\n").replace("\r", "\n"),
        tags=tags,
        cell_id=cell.get("id"),
    )
