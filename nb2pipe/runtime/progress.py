"""Progress display: a live table on a terminal (rich), plain lines otherwise (CI logs),
only errors and the final line with ``--quiet``."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Protocol, TextIO

PREFIX = "[nb2pipe]"


class Reporter(Protocol):
    def start(self, steps: list[str]) -> None: ...

    def update(
        self, step: str, status: str, duration: float | None = None, note: str = ""
    ) -> None: ...

    def error(self, text: str) -> None: ...

    def info(self, text: str) -> None: ...

    def finish(self, line: str) -> None: ...


def _fmt(duration: float | None) -> str:
    return "" if duration is None else f"{duration:.2f}s"


class PlainReporter:
    """``[nb2pipe] train ok 1.23s``, one line per finished step."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, quiet: bool = False):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.why: dict[str, str] = {}  # step -> why it runs (the note of "running", with -v)

    def start(self, steps: list[str]) -> None:
        pass

    def update(self, step: str, status: str, duration: float | None = None, note: str = "") -> None:
        if status == "running" and note:
            self.why[step] = note
        if self.quiet or status in ("pending", "running"):
            return
        if not note and status in ("ok", "failed") and step in self.why:
            note = f"ran: {self.why.pop(step)}"
        parts = [PREFIX, step, status]
        if duration is not None and status in ("ok", "failed"):
            parts.append(_fmt(duration))
        if note:
            parts.append(f"({note})")
        print(" ".join(parts), file=self.out, flush=True)

    def error(self, text: str) -> None:
        print(f"{PREFIX} error: {text}", file=self.err, flush=True)

    def info(self, text: str) -> None:
        if not self.quiet:
            print(f"{PREFIX} {text}", file=self.out, flush=True)

    def finish(self, line: str) -> None:
        print(f"{PREFIX} {line}", file=self.out, flush=True)


_STYLE = {
    "pending": ("dim", "·"),
    "running": ("cyan", "…"),
    "ok": ("green", "✓"),
    "cached": ("blue", "="),
    "failed": ("bold red", "✗"),
    "skipped": ("yellow", "-"),
}


class RichReporter:
    """A live table of the steps. It writes to its own copy of the terminal's file
    descriptor, so a step's output captured into its log never lands in the display."""

    def __init__(self) -> None:
        from rich.console import Console

        self._file = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
        self.console = Console(file=self._file, force_terminal=True)
        self.rows: dict[str, list[Any]] = {}
        self.errors: list[str] = []
        self.live: Any = None

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table(show_header=False, box=None, padding=(0, 1))
        now = time.monotonic()
        for name, (status, started, duration, note) in self.rows.items():
            style, mark = _STYLE.get(status, ("", "?"))
            if status == "running":
                icon: Any = Spinner("dots", style=style)
                shown = _fmt(now - started)
            else:
                icon, shown = f"[{style}]{mark}[/]", _fmt(duration)
            table.add_row(icon, name, f"[{style}]{status}[/]", shown, f"[dim]{note}[/]")
        return table

    def start(self, steps: list[str]) -> None:
        from rich.live import Live

        self.rows = {s: ["pending", 0.0, None, ""] for s in steps}
        self.live = Live(get_renderable=self._render, console=self.console, refresh_per_second=8)
        self.live.start()

    def update(self, step: str, status: str, duration: float | None = None, note: str = "") -> None:
        self.rows[step] = [status, time.monotonic(), duration, note]

    def error(self, text: str) -> None:
        self.errors.append(text)

    def info(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(f"{PREFIX} {text}", style="dim"), highlight=False)

    def finish(self, line: str) -> None:
        if self.live is not None:
            self.live.stop()
        self._file.flush()
        for text in self.errors:
            print(f"{PREFIX} error: {text}", file=sys.stderr, flush=True)
        print(f"{PREFIX} {line}", file=sys.stdout, flush=True)
        self._file.close()


def make_reporter(mode: str | None, *, quiet: bool, verbose: bool) -> Reporter:
    """mode: "rich", "plain", "none" or None (rich when stdout is a terminal, not verbose)."""
    if mode == "none":
        return NullReporter()
    if quiet:
        return PlainReporter(quiet=True)
    if mode is None:
        try:
            tty = sys.stdout.isatty()
        except (AttributeError, ValueError):
            tty = False
        mode = "rich" if tty and not verbose and os.environ.get("TERM") != "dumb" else "plain"
    if mode == "rich":
        try:
            return RichReporter()
        except Exception:  # noqa: BLE001 - no rich, no fileno: plain lines still work
            pass
    return PlainReporter()


class NullReporter:
    """Silent: for programmatic runs (``run(..., progress="none")``)."""

    def start(self, steps: list[str]) -> None:
        pass

    def update(self, step: str, status: str, duration: float | None = None, note: str = "") -> None:
        pass

    def error(self, text: str) -> None:
        pass

    def info(self, text: str) -> None:
        pass

    def finish(self, line: str) -> None:
        pass
