"""The compiler's errors. They subclass the one root, :class:`Nb2pipeError`, defined with
the exit codes in :mod:`nb2pipe.runtime.errors` (it ships with the runtime) and re-exported
here. Every error names the file, the cell and the line, and the fix."""

from __future__ import annotations

from nb2pipe.runtime.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CorruptArtifact,
    GateFailed,
    Nb2pipeError,
    StepFailed,
    UsageError,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "AnalysisError",
    "CorruptArtifact",
    "GateFailed",
    "Nb2pipeError",
    "NotebookError",
    "OutputError",
    "StaleError",
    "StepFailed",
    "StrictError",
    "TagError",
    "UsageError",
]


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

    exit_code = EXIT_FAILED
