"""What ``verify`` found: one row per step and variable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["ok", "mismatch", "missing", "failed", "not run", "skipped", "nondeterministic"]
#: Not a difference: a value left out (not selected, a figure that cannot be read) or one
#: the notebook itself computes differently on every run.
ACCEPTED = ("ok", "skipped", "nondeterministic")


@dataclass(frozen=True)
class Row:
    step: str
    variable: str  # "" for a step without outputs (a gate)
    verdict: Verdict
    how: str = ""  # how the values were compared ("DataFrame", "estimator: predict(X)")
    detail: str = ""  # the difference, the failure, or a note

    @property
    def ok(self) -> bool:
        return self.verdict in ACCEPTED

    def describe(self) -> str:
        what = f"step {self.step!r}"
        if self.variable:
            what += f", variable {self.variable!r}"
        return f"{what}: {self.verdict}" + (f": {self.detail}" if self.detail else "")


@dataclass
class VerifyResult:
    notebook: str
    pipeline_dir: str | None  # None: converted into a temporary folder
    rows: list[Row] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)  # the overrides applied
    notebook_error: str | None = None
    pipeline_error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # convert, pipeline, notebook, ...
    kept: str | None = None  # the scratch folder, when kept

    @property
    def problems(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.problems and self.notebook_error is None and self.pipeline_error is None

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def summary(self) -> str:
        """A readable account of every difference (empty when verified)."""
        lines = []
        rows = " ".join(r.detail for r in self.problems)
        if self.notebook_error:
            lines.append(f"the notebook failed: {self.notebook_error}")
        if self.pipeline_error and self.pipeline_error not in rows:
            lines.append(f"the pipeline failed: {self.pipeline_error}")
        lines.extend(r.describe() for r in self.problems)
        return "\n".join(lines)
