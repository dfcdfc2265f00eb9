"""Reading one run folder (``runs/<run_id>/``) for the report, treating all of it as untrusted
(the run is named and its run.json read by :mod:`nb2pipe.mlops.runs`, the one reader):
paths named in run.json must stay inside the run folder, figures must be PNG files of
bounded size, logs are read from their tail only and cleaned of terminal control codes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PNG = b"\x89PNG\r\n\x1a\n"
MAX_FIGURE = 16 * 2**20
LOG_BYTES = 64 * 1024
LOG_LINES = 80
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def inside(run_dir: Path, relative: Any) -> Path | None:
    """`relative` resolved inside `run_dir`, or None when it is not a string or escapes it."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    root = run_dir.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path != root else None


def clean(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))


@dataclass(frozen=True)
class LogTail:
    path: str  # relative to the run folder
    text: str
    lines: int  # lines shown
    truncated: bool


def log_tail(run_dir: Path, relative: Any, lines: int = LOG_LINES) -> LogTail | None:
    path = inside(run_dir, relative)
    if path is None or not path.is_file():
        return None
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - LOG_BYTES))
        data = f.read()
    text = clean(data.decode("utf-8", errors="replace"))
    all_lines = text.rstrip("\n").split("\n") if text.strip() else []
    cut = size > LOG_BYTES or len(all_lines) > lines
    if size > LOG_BYTES and all_lines:
        all_lines = all_lines[1:]  # the first line is probably cut in the middle
    shown = all_lines[-lines:]
    return LogTail(str(relative), "\n".join(shown), len(shown), cut)


@dataclass(frozen=True)
class Figure:
    step: str
    path: str
    data_uri: str | None  # None when the file is missing, too large or not a PNG
    problem: str = ""


def figure(run_dir: Path, step: str, relative: Any) -> Figure:
    shown = str(relative)
    path = inside(run_dir, relative)
    if path is None:
        return Figure(step, shown, None, "outside the run folder: not shown")
    if not path.is_file():
        return Figure(step, shown, None, "missing")
    if path.stat().st_size > MAX_FIGURE:
        return Figure(step, shown, None, f"larger than {MAX_FIGURE // 2**20} MB: not embedded")
    data = path.read_bytes()
    if not data.startswith(PNG):
        return Figure(step, shown, None, "not a PNG file: not embedded")
    return Figure(step, shown, "data:image/png;base64," + base64.b64encode(data).decode("ascii"))


def figures(run_dir: Path, steps: Mapping[str, Any]) -> list[Figure]:
    """The figures each step recorded, then PNGs in figures/ that no step names."""
    out: list[Figure] = []
    named: set[Path] = set()
    for name, rec in steps.items():
        items = rec.get("figures") if isinstance(rec, Mapping) else None
        for rel in items if isinstance(items, list) else []:
            out.append(figure(run_dir, str(name), rel))
            if (p := inside(run_dir, rel)) is not None:
                named.add(p)
    folder = run_dir / "figures"
    if folder.is_dir():
        for p in sorted(folder.glob("*.png")):
            if p.resolve() not in named:
                out.append(figure(run_dir, "", f"figures/{p.name}"))
    return out
