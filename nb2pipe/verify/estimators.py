"""What a fitted estimator is asked to predict on when verify compares two of them.

Predictions on the training data alone let two different models pass (a forest fitted
from another random stream predicts its own training rows much like the right one). So
the estimators predict on every matching value among the step's data (inputs and
outputs) and on a fixed synthetic sample: rows drawn, with a generator of its own and a
fixed seed, within the ranges (numbers) and among the values (categories) of the data
the estimator saw, or standard normal numbers when no such data is at hand. Fitted
attributes of plain kinds (numbers, arrays, strings) are compared as well.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

SAMPLE_ROWS = 32
SEED = 20240613  # any fixed number: the sample must be the same for both estimators


def candidates(est: Any, data: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Values among the step's data an estimator can predict on: 2-d arrays or DataFrames
    with as many columns as it saw when fitted (and the same names, if it saw names)."""
    n = getattr(est, "n_features_in_", None)
    if not isinstance(n, int):
        return []
    names = getattr(est, "feature_names_in_", None)
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    found: list[tuple[str, Any]] = []
    for name, value in data:
        if pd is not None and isinstance(value, pd.DataFrame):
            if names is not None and list(value.columns) == list(names):
                found.append((name, value))
            elif names is not None and set(names) <= set(value.columns):
                found.append((f"{name}[features]", value[list(names)]))
            elif names is None and value.shape[1] == n:
                found.append((name, value.to_numpy()))
        elif np is not None and isinstance(value, np.ndarray) and names is None:
            if value.ndim == 2 and value.shape[1] == n and value.dtype.kind in "biuf":
                found.append((name, value))
    return found


def synthetic(est: Any, template: Any | None) -> Any | None:
    """A fixed sample shaped like ``template`` (or like what the estimator saw)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    if template is not None:
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(template, pd.DataFrame):
            return pd.DataFrame(
                {c: _column(rng, template[c]) for c in template.columns}, columns=template.columns
            )
        if isinstance(template, np.ndarray) and template.ndim == 2 and len(template):
            kind = template.dtype.kind
            cols = [_numbers(rng, template[:, j], kind) for j in range(template.shape[1])]
            return np.stack(cols, axis=1).astype(template.dtype)
    n = getattr(est, "n_features_in_", None)
    if not isinstance(n, int):
        return None
    values = rng.standard_normal((SAMPLE_ROWS, n))
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        return pd.DataFrame(values, columns=list(names))
    return values


def _numbers(rng: Any, column: Any, kind: str) -> Any:
    """Numbers within the column's range: integers for an integer column."""
    import numpy as np

    if kind == "b":
        return rng.integers(0, 2, SAMPLE_ROWS).astype(bool)
    values = np.asarray(column, dtype="float64")
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.zeros(SAMPLE_ROWS)
    lo, hi = float(finite.min()), float(finite.max())
    if kind in "iu":
        return rng.integers(int(lo), int(hi) + 1, SAMPLE_ROWS)
    return rng.uniform(lo, hi, SAMPLE_ROWS)


def _column(rng: Any, series: Any) -> Any:
    import pandas as pd

    kind = getattr(series.dtype, "kind", "O")
    if kind in "iuf" and pd.api.types.is_numeric_dtype(series.dtype):
        numbers = _numbers(rng, series.dropna().to_numpy(dtype="float64"), kind)
        return pd.Series(numbers).astype(series.dtype)
    values = pd.unique(series.dropna())
    if not len(values):
        return pd.Series([None] * SAMPLE_ROWS, dtype=series.dtype)
    picks = rng.integers(0, len(values), SAMPLE_ROWS)
    return pd.Series([values[i] for i in picks], dtype=series.dtype)


def plain_fitted(est: Any) -> list[str]:
    """Fitted attributes worth comparing beside the predictions: numbers, strings, arrays
    and containers of them (not nested estimators, trees or other objects, whose bytes
    may differ although they predict the same)."""
    try:
        names = vars(est)
    except TypeError:
        return []
    return [k for k, v in names.items() if k.endswith("_") and not k.startswith("_") and _plain(v)]


def _plain(value: Any, depth: int = 0) -> bool:
    np = sys.modules.get("numpy")
    if depth > 3:
        return False
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return True
    if np is not None and isinstance(value, np.generic):
        return True
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.kind != "O":
            return True
        return all(_plain(v, depth + 1) for v in value.flat[:20])
    if isinstance(value, dict):
        return all(_plain(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value[:20])
    return False
