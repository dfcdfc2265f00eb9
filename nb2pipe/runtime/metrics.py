"""Run metrics: their direction (higher or lower is better), ``metrics.json``, and the
baseline gate ``--max-regression METRIC=DELTA``.

A metric's direction is declared in the notebook's ``metrics`` cell by a trailing comment
on its line (``rmse  # lower``, ``accuracy  # higher``; "lower is better", "min", "max"
work too). Undeclared metrics follow the name: a name with one of the words ``loss``,
``error``, ``err``, ``mse``, ``mae``, ``rmse``, ``mape``, ``smape``, ``msle``, ``rmsle``,
``logloss``, ``deviance``, ``perplexity``, ``brier``, ``cost``, ``regret``, ``latency``,
``time``, ``duration`` or ``seconds`` (split at ``_``, ``-``, ``.`` and camel case) is
lower-is-better; every other metric is higher-is-better.

Light module: the runtime imports it on every run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nb2pipe.runtime.errors import UsageError

HIGHER, LOWER = "higher", "lower"
LOWER_WORDS = frozenset(
    "loss error err errors mse mae rmse mape smape msle rmsle logloss nll deviance perplexity "
    "brier cost regret latency time duration seconds".split()
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_DECLARED = {
    "higher": HIGHER,
    "higher is better": HIGHER,
    "max": HIGHER,
    "maximize": HIGHER,
    "maximise": HIGHER,
    "lower": LOWER,
    "lower is better": LOWER,
    "min": LOWER,
    "minimize": LOWER,
    "minimise": LOWER,
}


_PRIMARY = re.compile(r"[,;]?\s*\bprimary\b\s*[,;]?")


def is_primary(comment: str) -> bool:
    """``# primary`` or ``# higher, primary``: the metric the champion policy judges by."""
    return bool(_PRIMARY.search(comment.lower()))


def declared_direction(comment: str) -> str | None:
    """``# lower`` / ``# higher is better`` / ``# min`` -> the direction, else None (a
    ``primary`` mark beside it is ignored here)."""
    text = _PRIMARY.sub(" ", comment.lstrip("#").strip().lower())
    return _DECLARED.get(" ".join(text.strip(" ,;").rstrip(".").split()))


def default_direction(name: str) -> str:
    """The direction of an undeclared metric, from its name (see the module docstring)."""
    words = {w.lower() for part in re.split(r"[_\-.\s]+", name) for w in _WORD.findall(part)}
    return LOWER if words & LOWER_WORDS else HIGHER


def directions(pipeline: Any, names: Iterable[str] = ()) -> dict[str, str]:
    """The direction of every metric of the pipeline (declared, else by name), plus
    ``names`` (e.g. metrics of an older run)."""
    out: dict[str, str] = {}
    for step in getattr(pipeline, "steps", ()):
        declared = dict(getattr(step, "directions", None) or {})
        for m in step.metrics:
            out[m] = declared.get(m) or default_direction(m)
        for m, d in declared.items():
            out.setdefault(m, d)
    for n in names:
        out.setdefault(n, default_direction(n))
    return out


def metric_table(record: Mapping[str, Any], dirs: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``{metric: {value, step, direction}}`` from a run record's step records."""
    table: dict[str, dict[str, Any]] = {}
    for step, rec in (record.get("steps") or {}).items():
        for name, value in ((rec or {}).get("metrics") or {}).items():
            table[name] = {
                "value": value,
                "step": step,
                "direction": dirs.get(name) or default_direction(name),
            }
    for name, value in (record.get("metrics") or {}).items():
        table.setdefault(
            name,
            {"value": value, "step": None, "direction": dirs.get(name) or default_direction(name)},
        )
    return table


def metrics_document(record: Mapping[str, Any], dirs: Mapping[str, str]) -> dict[str, Any]:
    """The content of ``<run>/metrics.json``."""
    return {
        "schema": 1,
        "run_id": record.get("run_id"),
        "pipeline": record.get("pipeline"),
        "status": record.get("status"),
        "metrics": metric_table(record, dirs),
    }


# --- the baseline gate --------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """``--max-regression accuracy=0.02`` (absolute) or ``accuracy=2%`` (relative)."""

    metric: str
    delta: float
    relative: bool = False

    def __str__(self) -> str:
        return (
            f"{self.metric}={self.delta * 100:g}%"
            if self.relative
            else f"{self.metric}={self.delta:g}"
        )


def parse_limits(args: Iterable[str]) -> tuple[Limit, ...]:
    limits: list[Limit] = []
    for arg in args:
        name, sep, value = arg.partition("=")
        name, value = name.strip(), value.strip()
        relative = value.endswith("%")
        try:
            delta = float(value[:-1] if relative else value)
        except ValueError:
            delta = math.nan
        if not sep or not name or not math.isfinite(delta) or delta < 0:
            raise UsageError(
                f"--max-regression expects METRIC=DELTA (a number >= 0, or a percentage such "
                f"as 2%), got {arg!r}"
            )
        limits.append(Limit(name, delta / 100 if relative else delta, relative))
    return tuple(limits)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def regressions(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any],
    limits: Iterable[Limit],
    dirs: Mapping[str, str],
    *,
    against: str = "the baseline",
) -> list[str]:
    """One message per metric that is worse than ``baseline`` by more than its limit.
    A metric the run did not produce is a failure; one the baseline lacks is not."""
    failures: list[str] = []
    for limit in limits:
        name = limit.metric
        now = _number(current.get(name))
        if name not in current:
            failures.append(f"metric {name!r} was not recorded by this run (--max-regression)")
            continue
        if now is None:
            failures.append(f"metric {name!r} is not a number ({current.get(name)!r})")
            continue
        before = _number(baseline.get(name))
        if before is None:
            continue
        direction = dirs.get(name) or default_direction(name)
        worse_by = before - now if direction == HIGHER else now - before
        allowed = abs(before) * limit.delta if limit.relative else limit.delta
        if worse_by > allowed + 1e-12:
            failures.append(
                f"{name} = {now:.6g} is worse than {against}'s {before:.6g} by {worse_by:.6g} "
                f"({direction} is better; --max-regression {limit})"
            )
    return failures


def metric_value(name: str, value: Any) -> Any:
    """A metric as recorded: a number (numpy scalars and 0-d arrays become Python numbers),
    a bool, or None. Anything else (a string, a DataFrame, an array, a dict) is a ValueError:
    it has no direction and no champion could be judged by it."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    item = getattr(value, "item", None)  # numpy scalars, 0-d arrays
    if callable(item) and getattr(value, "ndim", 0) == 0:
        try:
            plain = item()
        except (TypeError, ValueError):
            plain = None
        if isinstance(plain, (bool, int, float)):
            return plain
    kind = type(value).__name__
    shown = " ".join(repr(value).split())
    raise ValueError(
        f"metric {name!r} is a {kind} ({shown[:60]}{'...' if len(shown) > 60 else ''}), "
        "not a number: record numbers in the metrics cell, print the rest in the step"
    )
