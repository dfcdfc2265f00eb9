"""The one exception family of nb2pipe, and its exit codes. It ships with the runtime
(generated steps import ``GateFailed`` from here), so it imports nothing.

Every error nb2pipe reports to a user is an :class:`Nb2pipeError`: one line naming the
file, the cell and the line when known, and the fix; ``exit_code`` is 2 (bad input) unless
a subclass says otherwise. The compiler's errors (``nb2pipe.errors``), the run history's,
the registry's, the server's and the exporters' all subclass it, so a front end catches
one class. Exceptions used for control flow inside a module (never shown) are not part of
the family.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # a step, a gate or a check failed
EXIT_USAGE = 2  # bad input: options, parameters, a notebook, a name
EXIT_INTERRUPTED = 130  # Ctrl-C


class Nb2pipeError(Exception):
    """Base class of every error nb2pipe reports to a user (exit code 2 unless stated)."""

    exit_code = EXIT_USAGE

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


class UsageError(Nb2pipeError):
    """Bad options or parameters: exit code 2, one line, no traceback."""


class CorruptArtifact(Nb2pipeError):
    """A stored artifact does not match its recorded digest (or cannot be read back)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, path: str, expected: str, actual: str | None) -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual


class StepFailed(Nb2pipeError):
    """A step run by an orchestrator's task failed: ``kind`` is ``gate`` (a check did not
    hold), ``mutation``, ``outputs``, ``artifact``, ``exception``, ``crash`` or ``input``
    (an upstream result is missing). Retrying helps only for ``exception`` and ``crash``
    (and then only for a transient cause)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, kind: str, record: dict | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.record = record or {}

    @property
    def retryable(self) -> bool:
        return self.kind in ("exception", "crash")


class GateFailed(AssertionError):
    """A validation gate's check does not hold.

    Generated gate steps raise it (a plain ``assert`` in a gate step counts as well). It
    subclasses ``AssertionError``, not :class:`Nb2pipeError`: it is the user's check
    failing inside a step (the step fails, the run exits 1), like any assertion.
    """
