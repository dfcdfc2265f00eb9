"""Exceptions of the runtime. Light: generated steps import ``GateFailed`` from here."""

from __future__ import annotations


class GateFailed(AssertionError):
    """A validation gate's check does not hold.

    Generated gate steps raise it (a plain ``assert`` in a gate step counts as well). It
    subclasses ``AssertionError`` so code that catches failed assertions catches it too.
    """


class UsageError(Exception):
    """Bad options or parameters: exit code 2, one line, no traceback."""

    exit_code = 2


class CorruptArtifact(Exception):
    """A stored artifact does not match its recorded sha256 (or cannot be read back)."""

    def __init__(self, message: str, *, path: str, expected: str, actual: str | None) -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual
