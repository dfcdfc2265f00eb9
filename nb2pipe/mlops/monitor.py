"""``nb2pipe monitor``: the prediction log read back, window by window. No printing here.

For each window (``1h``, ``30m``, ``2d``: calendar-aligned periods; ``1000``: that many
predictions in a row) and the version that answered most of it:

* **input drift**: each feature of the version's schema against its training reference
  (the statistics ``nb2pipe drift`` uses), PSI over the training deciles or categories;
* **prediction drift**: the predictions against the training labels' reference;
* **live performance**: once labels arrived (``POST /feedback``), the version's primary
  metric recomputed from labels and predictions (by its name: accuracy, balanced
  accuracy, f1, precision, recall, r2, rmse, mse, mae, mape), against the registered value.

A window crosses a threshold when a feature's or the predictions' PSI is above ``psi``,
or the live metric is worse than the registered one by more than ``max_drop`` (absolute,
or relative with ``%``). The report's exit code is 1 when the latest window crossed one:
what a scheduler acts on.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.mlops.drift import FeatureDrift, compare
from nb2pipe.runtime.errors import Nb2pipeError
from nb2pipe.runtime.metrics import HIGHER, default_direction

_PERIOD = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# live metric: (name inside the registered metric's name, direction)
LIVE = (
    ("balanced_accuracy", HIGHER), ("accuracy", HIGHER), ("f1", HIGHER),
    ("precision", HIGHER), ("recall", HIGHER), ("r2", HIGHER),
    ("rmse", "lower"), ("mse", "lower"), ("mae", "lower"), ("mape", "lower"),
)  # fmt: skip


class MonitorError(Nb2pipeError):
    """Bad options or an empty log (exit 2)."""


@dataclass(frozen=True)
class Window:
    kind: str  # "time" or "count"
    size: float

    def __str__(self) -> str:
        return f"{self.size:g}s" if self.kind == "time" else f"{int(self.size)} predictions"


def parse_window(text: str) -> Window:
    text = str(text).strip().lower()
    if text.isdigit() and int(text) > 0:
        return Window("count", int(text))
    m = _PERIOD.fullmatch(text)
    if m and float(m.group(1)) > 0:
        return Window("time", float(m.group(1)) * _SECONDS[m.group(2)])
    raise MonitorError(f"--window {text!r}: a period such as 1h, 30m, 2d, or a count such as 1000")


def parse_drop(text: str) -> tuple[float, bool]:
    """``0.05`` (absolute) or ``10%`` (relative to the registered value)."""
    relative = str(text).strip().endswith("%")
    try:
        value = float(str(text).strip().rstrip("%"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise MonitorError(f"--max-drop {text!r}: a number >= 0, or a percentage such as 5%")
    return (value / 100 if relative else value), relative


def split(rows: Sequence[Any], window: Window) -> list[list[Any]]:
    """Rows (oldest first) cut into windows; empty periods are left out."""
    if window.kind == "count":
        n = int(window.size)
        return [list(rows[i : i + n]) for i in range(0, len(rows), n)]
    out: dict[int, list[Any]] = {}
    for r in rows:
        out.setdefault(int(r.ts // window.size), []).append(r)
    return [out[k] for k in sorted(out)]


@dataclass
class WindowReport:
    index: int
    start: float
    end: float
    count: int
    labelled: int
    version: int
    versions: dict[int, int]
    features: list[FeatureDrift] = field(default_factory=list)
    prediction: FeatureDrift | None = None
    metric: str | None = None
    live: float | None = None
    registered: float | None = None
    drop: float | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.status == "drift"]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index, "start": self.start, "end": self.end, "count": self.count,
            "labelled": self.labelled, "version": self.version,
            "versions": {str(k): v for k, v in self.versions.items()},
            "drifted": self.drifted, "features": [f.to_json() for f in self.features],
            "prediction": self.prediction.to_json() if self.prediction else None,
            "metric": self.metric, "live": self.live, "registered": self.registered,
            "drop": self.drop, "flags": self.flags,
        }  # fmt: skip


@dataclass
class MonitorReport:
    model: str
    window: str
    thresholds: dict[str, Any]
    windows: list[WindowReport]

    @property
    def exit_code(self) -> int:
        return 1 if self.windows and self.windows[-1].flags else 0

    def to_json(self) -> dict[str, Any]:
        latest = self.windows[-1] if self.windows else None
        return {
            "model": self.model,
            "window": self.window,
            "thresholds": self.thresholds,
            "crossed": latest.flags if latest else [],
            "windows": [w.to_json() for w in self.windows],
        }


def live_metric(name: str, task: str | None) -> tuple[str, str]:
    """(scikit-learn metric key, direction) recomputing the registered metric ``name``."""
    low = name.lower()
    for key, direction in LIVE:
        if key in low:
            return key, direction
    return ("accuracy", HIGHER) if task == "classification" else ("rmse", "lower")


def score(key: str, y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    import numpy as np
    from sklearn import metrics as m

    if key in ("rmse", "mse", "mae", "mape", "r2"):
        t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
        fn = {
            "rmse": lambda: math.sqrt(m.mean_squared_error(t, p)),
            "mse": lambda: m.mean_squared_error(t, p),
            "mae": lambda: m.mean_absolute_error(t, p),
            "mape": lambda: m.mean_absolute_percentage_error(t, p),
            "r2": lambda: m.r2_score(t, p),
        }[key]
        return float(fn())
    t, p = [str(v) for v in y_true], [str(v) for v in y_pred]
    if key == "accuracy":
        return float(m.accuracy_score(t, p))
    if key == "balanced_accuracy":
        return float(m.balanced_accuracy_score(t, p))
    fn = {"f1": m.f1_score, "precision": m.precision_score, "recall": m.recall_score}[key]
    return float(fn(t, p, average="macro", zero_division=0))


@dataclass
class Version:
    """What the monitor needs of a registered version."""

    meta: Any  # ModelVersion
    reference: Mapping[str, Any] | None


def _drift(
    rows: Sequence[Any], v: Version, psi: float
) -> tuple[list[FeatureDrift], FeatureDrift | None]:
    import pandas as pd

    ref = (v.reference or {}).get("features") or {}
    schema = v.meta.schema or {}
    names = [f["name"] for f in schema.get("features") or []] or [
        k for k in ref if k != schema.get("target")
    ]
    frame = pd.DataFrame([r.features for r in rows])
    wanted = {n: ref[n] for n in names if n in ref and n in frame.columns}
    features = compare({"features": wanted}, frame, threshold=psi) if wanted else []
    target = schema.get("target")
    prediction = None
    if target and target in ref:
        preds = pd.DataFrame({target: [r.output.get("prediction") for r in rows]})
        prediction = compare({"features": {target: ref[target]}}, preds, threshold=psi)[0]
    return features, prediction


def _window(
    index: int,
    rows: list[Any],
    versions: Mapping[int, Version],
    *,
    psi: float,
    max_drop: tuple[float, bool],
    metric: str | None,
    min_rows: int,
    min_labels: int,
) -> WindowReport:
    counts = Counter(r.version for r in rows)
    number = max(counts, key=lambda k: (counts[k], k))
    labelled = [r for r in rows if r.labelled]
    w = WindowReport(index, rows[0].ts, rows[-1].ts, len(rows), len(labelled), number, dict(counts))
    v = versions.get(number)
    if v is None:
        w.flags.append(f"version {number} is not in the registry")
        return w
    if len(rows) >= min_rows:
        w.features, w.prediction = _drift(rows, v, psi)
        if w.drifted:
            detail = ", ".join(
                f"{f.feature} (PSI {f.psi:.2f})" for f in w.features if f.status == "drift"
            )
            w.flags.append(f"input drift: {detail}")
        if w.prediction is not None and w.prediction.status == "drift":
            w.flags.append(f"prediction drift: PSI {w.prediction.psi:.2f}")
    meta = v.meta
    name = metric or meta.primary or next(iter(meta.metrics), "")
    key, direction = live_metric(name, (meta.schema or {}).get("task"))
    direction = meta.directions.get(name) or (default_direction(name) if name else direction)
    w.metric = name or key
    registered = meta.metrics.get(name)
    if isinstance(registered, (int, float)) and not isinstance(registered, bool):
        w.registered = float(registered)
    if len(labelled) >= min_labels:
        preds = [r.output.get("prediction") for r in labelled]
        w.live = score(key, [r.label for r in labelled], preds)
        if w.registered is not None:
            w.drop = w.registered - w.live if direction == HIGHER else w.live - w.registered
            limit = max_drop[0] * abs(w.registered) if max_drop[1] else max_drop[0]
            if w.drop > limit + 1e-12:
                w.flags.append(
                    f"performance: {w.metric} {w.live:.4g} live vs {w.registered:.4g} "
                    f"registered (worse by {w.drop:.4g}, limit {limit:.4g})"
                )
    return w


def monitor(
    model: str,
    rows: Sequence[Any],
    versions: Mapping[int, Version],
    *,
    window: Window,
    psi: float = 0.2,
    max_drop: tuple[float, bool] = (0.05, False),
    metric: str | None = None,
    min_rows: int = 30,
    min_labels: int = 20,
) -> MonitorReport:
    """The report of ``rows`` (the log of ``model``, oldest first)."""
    reports = [
        _window(i, part, versions, psi=psi, max_drop=max_drop, metric=metric,
                min_rows=min_rows, min_labels=min_labels)
        for i, part in enumerate(split(rows, window))
    ]  # fmt: skip
    thresholds = {
        "psi": psi,
        "max_drop": f"{max_drop[0] * 100:g}%" if max_drop[1] else max_drop[0],
        "min_rows": min_rows,
        "min_labels": min_labels,
    }
    return MonitorReport(model, str(window), thresholds, reports)


def labelled_frame(rows: Sequence[Any], schema: Mapping[str, Any] | None, label: str) -> Any:
    """The labelled predictions as training data: the features (in the schema's order,
    with its dtypes) and the label column, oldest first."""
    import pandas as pd

    kept = [r for r in rows if r.labelled]
    features = [f for f in (schema or {}).get("features") or []]
    order = [f["name"] for f in features]
    frame = pd.DataFrame([r.features for r in kept])
    columns = [c for c in order if c in frame.columns] + [
        c for c in frame.columns if c not in order
    ]
    frame = frame.reindex(columns=columns)
    for f in features:
        if f["name"] in frame.columns and f.get("dtype") and not f.get("nullable"):
            try:
                frame[f["name"]] = frame[f["name"]].astype(f["dtype"])
            except (TypeError, ValueError):
                pass
    if label in frame.columns:
        raise MonitorError(f"the label column {label!r} is also a feature (--label-column)")
    frame[label] = [r.label for r in kept]
    return frame


def write_frame(frame: Any, path: Path) -> None:
    """``.parquet``, ``.csv`` or ``.jsonl``, written aside and renamed into place."""
    from nb2pipe.runtime.fsutil import tmp_name

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl"):
        raise MonitorError(f"--export {path}: use a .parquet, .csv or .jsonl file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
