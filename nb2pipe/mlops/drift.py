"""Drift: the reference statistics of a model's training data, and new data compared
with them, feature by feature.

At registration the runtime profiles the training data: the DataFrame, Series and array
inputs of the step that produces the model (``profile``). ``nb2pipe drift NAME --data
NEW.csv`` reads new data and compares each feature it shares with the reference
(``compare``):

* numbers: the population stability index (PSI) over the reference's deciles, and the
  Kolmogorov-Smirnov statistic against the reference's percentiles;
* categories (strings, booleans, pandas categoricals): PSI over the reference's category
  frequencies, categories unseen in training pooled into one.

A feature drifts when its statistic (PSI by default, or KS with ``--method ks``) is above
the threshold (PSI 0.2, the usual "significant shift"; KS 0.1). Features of the
reference that the new data lacks are listed as missing and do not count as drift.

numpy and pandas are imported when a function needs them, never at import time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nb2pipe.runtime.errors import Nb2pipeError

SCHEMA = 1
QUANTILES = 101  # percentiles 0..100 for the KS statistic
BINS = 10  # deciles for PSI
TOP_CATEGORIES = 100
EPS = 1e-4  # proportions are floored at this in PSI (empty bins)
THRESHOLDS = {"psi": 0.2, "ks": 0.1}


class DriftError(Nb2pipeError):
    """Bad input for a drift check (exit 2)."""


# --- reference statistics -----------------------------------------------------------------


def _columns(var: str, value: Any) -> list[tuple[str, Any]]:
    """(feature name, 1-D values) pairs of one training input (DataFrame columns, a Series,
    array columns, a list of numbers or of labels); others are skipped."""
    import numpy as np

    if isinstance(value, (list, tuple)) and value and len(value) <= 10_000_000:
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return [(var, np.asarray(value, dtype=float))]
        if all(isinstance(v, (str, bool)) or v is None for v in value):
            return [(var, value)]
        return []
    mod = type(value).__module__
    if mod.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return [(str(c), value[c]) for c in value.columns]
        if isinstance(value, pd.Series):
            return [(str(value.name) if value.name is not None else var, value)]
        return []
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.ndim == 1:
            return [(var, value)]
        if value.ndim == 2 and value.shape[1] <= 10_000:
            return [(f"{var}[{i}]", value[:, i]) for i in range(value.shape[1])]
    return []


def _is_numeric(values: Any) -> bool:
    import numpy as np

    dtype = getattr(values, "dtype", None)
    if dtype is None or str(dtype) in ("category", "boolean", "bool"):
        return False
    try:
        return bool(np.issubdtype(dtype, np.number))
    except TypeError:
        return False


def _numeric_profile(values: Any) -> dict[str, Any]:
    import numpy as np

    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    n = int(arr.size)
    stats: dict[str, Any] = {"kind": "numeric", "count": n, "nulls": int(n - finite.size)}
    if finite.size == 0:
        return stats
    # actual values (inverted CDF), so a discrete feature keeps its steps
    qs = np.quantile(finite, np.linspace(0, 1, QUANTILES), method="inverted_cdf")
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, BINS + 1))[1:-1])
    counts = _bin_counts(finite, edges)
    stats.update(
        mean=float(finite.mean()),
        std=float(finite.std()),
        min=float(finite.min()),
        max=float(finite.max()),
        quantiles=[float(q) for q in qs],
        edges=[float(e) for e in edges],
        proportions=[float(c) / finite.size for c in counts],
    )
    return stats


def _bin_counts(values: Any, edges: Any) -> Any:
    """Counts in (-inf, e0], (e0, e1], ..., (e_k, inf)."""
    import numpy as np

    idx = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    return np.bincount(idx, minlength=len(edges) + 1)


def _category_profile(values: Any) -> dict[str, Any]:
    import pandas as pd

    series = pd.Series(values).astype("object")
    n = int(series.size)
    present = series.dropna()
    freq = present.map(str).value_counts(normalize=True, sort=True)
    top = freq.head(TOP_CATEGORIES)
    return {
        "kind": "categorical",
        "count": n,
        "nulls": int(n - present.size),
        "frequencies": {str(k): float(v) for k, v in top.items()},
        "other": float(max(0.0, 1.0 - float(top.sum()))),
    }


def profile(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Reference statistics of training inputs ({variable: value}); None when none of them
    is a DataFrame, Series or numeric array."""
    features: dict[str, Any] = {}
    sources: list[str] = []
    for var, value in inputs.items():
        cols = _columns(var, value)
        if cols:
            sources.append(var)
        for name, values in cols:
            if name in features:
                continue
            features[name] = (
                _numeric_profile(values) if _is_numeric(values) else _category_profile(values)
            )
            features[name]["source"] = var
    if not features:
        return None
    return {"schema": SCHEMA, "sources": sources, "features": features}


# --- comparison ---------------------------------------------------------------------------


@dataclass
class FeatureDrift:
    feature: str
    kind: str  # numeric | categorical
    status: str  # ok | drift | missing | empty
    psi: float | None = None
    ks: float | None = None
    reference_mean: float | None = None
    new_mean: float | None = None
    new_categories: list[str] | None = None
    rows: int = 0

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _psi(expected: list[float], actual: list[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPS), max(a, EPS)
        total += (a - e) * math.log(a / e)
    return total


def _ks(quantiles: list[float], values: Any) -> float:
    """The two-sample Kolmogorov-Smirnov statistic, max |F_ref - F_new|, the reference
    represented by its percentiles (values of the data: within 1/100 of the exact one)."""
    import numpy as np

    ref = np.sort(np.asarray(quantiles, dtype=float))
    new = np.sort(np.asarray(values, dtype=float))
    points = np.unique(np.concatenate([ref, new]))
    f_ref = np.searchsorted(ref, points, side="right") / ref.size
    f_new = np.searchsorted(new, points, side="right") / new.size
    return float(np.max(np.abs(f_ref - f_new)))


def _compare_numeric(name: str, ref: Mapping[str, Any], values: Any) -> FeatureDrift:
    import numpy as np

    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return FeatureDrift(name, "numeric", "drift", new_categories=["<not numbers>"])
    finite = arr[np.isfinite(arr)]
    row = FeatureDrift(name, "numeric", "ok", rows=int(arr.size))
    if finite.size == 0 or "quantiles" not in ref:
        row.status = "empty"
        return row
    counts = _bin_counts(finite, ref["edges"])
    row.psi = _psi(list(ref["proportions"]), [float(c) / finite.size for c in counts])
    row.ks = _ks(ref["quantiles"], finite)
    row.reference_mean, row.new_mean = float(ref["mean"]), float(finite.mean())
    return row


def _compare_categories(name: str, ref: Mapping[str, Any], values: Any) -> FeatureDrift:
    import pandas as pd

    series = pd.Series(values).astype("object").dropna().map(str)
    row = FeatureDrift(name, "categorical", "ok", rows=int(len(values)))
    if series.empty:
        row.status = "empty"
        return row
    freq = series.value_counts(normalize=True)
    known = dict(ref.get("frequencies") or {})
    expected = [float(v) for v in known.values()] + [float(ref.get("other", 0.0))]
    actual = [float(freq.get(k, 0.0)) for k in known]
    actual.append(max(0.0, 1.0 - sum(actual)))
    row.psi = _psi(expected, actual)
    unseen = [str(k) for k in freq.index if k not in known]
    if unseen and not ref.get("other"):
        row.new_categories = unseen[:10]
    return row


def compare(
    reference: Mapping[str, Any], data: Any, *, method: str = "psi", threshold: float | None = None
) -> list[FeatureDrift]:
    """Each reference feature compared with the column of the same name in ``data``."""
    if method not in THRESHOLDS:
        raise DriftError(f"unknown method {method!r} (psi or ks)")
    limit = THRESHOLDS[method] if threshold is None else threshold
    columns = {str(c): c for c in data.columns}
    rows: list[FeatureDrift] = []
    for name, ref in (reference.get("features") or {}).items():
        kind = ref.get("kind", "numeric")
        if name not in columns:
            rows.append(FeatureDrift(name, kind, "missing"))
            continue
        values = data[columns[name]]
        row = (
            _compare_numeric(name, ref, values)
            if kind == "numeric"
            else _compare_categories(name, ref, values)
        )
        stat = row.psi if method == "psi" else (row.ks if row.ks is not None else row.psi)
        if row.status == "ok" and stat is not None and stat > limit:
            row.status = "drift"
        rows.append(row)
    if rows and all(r.status == "missing" for r in rows):
        raise DriftError(
            "no column of the new data matches a feature of the reference "
            f"({', '.join(list(reference.get('features') or {})[:8])})"
        )
    return rows


def read_data(path: str | Path) -> Any:
    """New data as a DataFrame: .csv, .tsv, .parquet, .json or .jsonl."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DriftError(f"no such file: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix == ".tsv":
            return pd.read_csv(p, sep="\t")
        if suffix == ".jsonl":
            return pd.read_json(p, lines=True)
        if suffix == ".json":
            return pd.read_json(p)
        return pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001 - any parse error is bad input
        raise DriftError(
            f"cannot read {p}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        ) from None


@dataclass
class DriftReport:
    model: str
    version: int
    data: str
    method: str
    threshold: float
    features: list[FeatureDrift]

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.status == "drift"]

    @property
    def exit_code(self) -> int:
        return 1 if self.drifted else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "data": self.data,
            "method": self.method,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "features": [f.to_json() for f in self.features],
        }


def check(
    ref: str,
    data: str | Path,
    *,
    method: str = "psi",
    threshold: float | None = None,
    tracking: str | None = None,
    registry: str | Path | None = None,
    runs_dir: str | Path | None = None,
    uri: str | None = None,
) -> DriftReport:
    """``nb2pipe drift NAME[:VERSION] --data FILE``."""
    from nb2pipe.mlops.registry import RegistryError, open_registry, parse_ref

    name, version = parse_ref(ref)
    reg = open_registry(tracking, registry=registry, runs_dir=runs_dir, uri=uri)
    mv = reg.get(name, version)
    reference = reg.reference(mv)
    if not reference:
        raise RegistryError(
            f"{mv.label} has no reference statistics (its step had no DataFrame, Series or "
            "array input to profile)"
        )
    if method not in THRESHOLDS:
        raise DriftError(f"unknown method {method!r} (psi or ks)")
    if threshold is not None and not (threshold >= 0 and math.isfinite(threshold)):
        raise DriftError("--threshold must be a number >= 0")
    frame = read_data(data)
    rows = compare(reference, frame, method=method, threshold=threshold)
    limit = THRESHOLDS[method] if threshold is None else threshold
    return DriftReport(mv.name, mv.version, str(data), method, limit, rows)
