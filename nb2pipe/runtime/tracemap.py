"""Map a traceback in generated code back to the notebook: ``# cell N`` markers.

The line within the cell is the offset after the marker; when the notebook can be read
(plain JSON, no nbformat), the failing line's text is looked up in that cell, since the
generated code is reformatted and may have lost lines (magics, display lines)."""

from __future__ import annotations

import linecache
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

_MARKER = re.compile(r"^\s*# (?:cell|process-wide setting replayed from cell) (\d+)\s*$")


@dataclass(frozen=True)
class Location:
    cell: int | None
    line: int | None  # 1-based line within the cell (offset after the marker)
    file: str
    lineno: int  # line in the generated file
    code: str  # the source line, stripped

    def describe(self) -> str:
        if self.cell is None:
            return f"{self.file}, line {self.lineno}"
        return f"cell {self.cell}, line {self.line}"


def cell_of(file: str, lineno: int) -> tuple[int | None, int | None]:
    """The notebook cell and the line within it for a line of a generated file."""
    for n in range(lineno - 1, 0, -1):
        m = _MARKER.fullmatch(linecache.getline(file, n))
        if m:
            return int(m.group(1)), lineno - n
    return None, None


def locate(exc: BaseException, package_dir: Path) -> Location | None:
    """The deepest frame inside the generated package, mapped to its notebook cell."""
    root = str(package_dir.resolve())
    frames: list[tuple[str, int]] = []
    tb: TracebackType | None = exc.__traceback__
    for fs in traceback.extract_tb(tb):
        if fs.lineno is not None:
            frames.append((fs.filename, fs.lineno))
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        frames.append((exc.filename, exc.lineno))
    best: Location | None = None
    for file, lineno in frames:
        try:
            resolved = str(Path(file).resolve())
        except (OSError, ValueError):
            continue
        if not resolved.startswith(root):
            continue
        linecache.checkcache(file)
        cell, line = cell_of(file, lineno)
        rel = str(Path(resolved).relative_to(root))
        loc = Location(cell, line, rel, lineno, linecache.getline(file, lineno).strip())
        if cell is not None or best is None or best.cell is None:
            best = loc
    return best


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("'", '"').rstrip(",;")


def refine(loc: Location, notebook: str) -> Location:
    """The line of ``loc.code`` in its notebook cell, when the notebook says so unambiguously
    (the match nearest to the marker offset wins among equal lines)."""
    if loc.cell is None or not loc.code or not notebook:
        return loc
    try:
        import json

        with open(notebook, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
        source = cells[loc.cell - 1]["source"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return loc
    text = "".join(source) if isinstance(source, list) else str(source)
    want = _norm(loc.code)
    hits = [i for i, line in enumerate(text.splitlines(), 1) if _norm(line) == want]
    if not hits:
        return loc
    best = min(hits, key=lambda i: abs(i - (loc.line or 0)))
    return Location(loc.cell, best, loc.file, loc.lineno, loc.code)
