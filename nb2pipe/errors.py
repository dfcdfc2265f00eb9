"""One exception family. Every error names the file, the cell and the line, and the fix."""

from __future__ import annotations


class Nb2pipeError(Exception):
    """Base class of every error nb2pipe reports to a user (exit code 2 unless stated)."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        cell: int | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.cell = cell
        self.line = line
        self.hint = hint

    def where(self) -> str:
        parts = [p for p in (self.file,) if p]
        if self.cell is not None:
            parts.append(f"cell {self.cell}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)

    def __str__(self) -> str:
        text = self.message
        where = self.where()
        if where:
            text = f"{where}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        # One line, always: user text may carry newlines.
        return " ".join(text.split())


class NotebookError(Nb2pipeError):
    """The notebook cannot be read: bad JSON, not a notebook, wrong format or kernel."""


class TagError(Nb2pipeError):
    """A tag is invalid: bad step name, repeated step, unknown `after:` target."""


class AnalysisError(Nb2pipeError):
    """The code cannot be converted faithfully: syntax error, undefined name, cycle."""


class StrictError(Nb2pipeError):
    """`--strict` turned an equivalence warning into an error."""


class OutputError(Nb2pipeError):
    """The output folder cannot be written, or is stale under `--check`."""


class StaleError(OutputError):
    """`convert --check` found the generated package out of date."""

    exit_code = 1
