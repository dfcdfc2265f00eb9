"""Map a traceback in generated code back to the notebook: ``# cell N`` markers."""

from __future__ import annotations

import linecache
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

_MARKER = re.compile(r"^\s*# cell (\d+)\b")


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
        m = _MARKER.match(linecache.getline(file, n))
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
