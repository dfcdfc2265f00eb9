"""The feature schema of a model version, recorded at registration, and the checks a
prediction request goes through.

``infer(model, inputs)`` reads the features the model was fitted on: the columns named by
``feature_names_in_`` (scikit-learn's record of a DataFrame fit) in the training input
that holds them, else the columns of the 2-D array or DataFrame input as wide as
``n_features_in_`` (array columns are named ``VAR[i]``, as the drift reference names
them). Each feature gets its type (number, integer, boolean, string), whether training
data had missing values, its range (numbers) or categories (strings), and whether it is a
secret (a name with password, secret, token, api_key or credential in it: never logged).
The label is the Series (or 1-D array) input as long as the features.

``parse(schema, body)`` turns a request body (``{"records": [...]}`` or
``{"columns": {...}}``) into checked columns, raising :class:`RequestError` (HTTP 422
naming the field, 413 for a batch over the limit).

numpy and pandas are imported when needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nb2pipe.runtime.errors import Nb2pipeError

SCHEMA = 1
MAX_CATEGORIES = 100
MAX_ERRORS = 20
SECRET_FIELD = ("password", "passwd", "secret", "token", "apikey", "api_key", "credential")


class RequestError(Nb2pipeError):
    """A request the schema refuses: ``status`` 422 (or 413) and one entry per field."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 422) -> None:
        self.errors = errors
        self.status = status
        super().__init__(errors[0]["msg"] if errors else "bad request")

    def to_json(self) -> dict[str, Any]:
        first = self.errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ()))
        where = where.lstrip(".")
        return {
            "error": f"{where}: {first['msg']}" if where else first["msg"],
            "detail": self.errors,
        }


def is_secret(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in SECRET_FIELD)


# --- at registration ----------------------------------------------------------------------


def _feature(name: str, values: Any) -> dict[str, Any]:
    import pandas as pd

    series = pd.Series(values)
    dtype = series.dtype
    out: dict[str, Any] = {"name": name, "dtype": str(dtype)}
    out["nullable"] = bool(series.isna().any())
    if pd.api.types.is_bool_dtype(dtype):
        out["type"] = "boolean"
    elif pd.api.types.is_numeric_dtype(dtype):
        out["type"] = "integer" if pd.api.types.is_integer_dtype(dtype) else "number"
        finite = pd.to_numeric(series, errors="coerce").astype(float)
        finite = finite[finite.map(math.isfinite)]
        if len(finite):
            out["min"], out["max"] = float(finite.min()), float(finite.max())
    else:
        out["type"] = "string"
        seen = series.dropna().map(str).unique().tolist()
        if len(seen) <= MAX_CATEGORIES:
            out["categories"] = sorted(seen)
    if is_secret(name):
        out["secret"] = True
    return out


def _frames(inputs: Mapping[str, Any]) -> list[tuple[str, Any]]:
    import pandas as pd

    return [(k, v) for k, v in inputs.items() if isinstance(v, pd.DataFrame)]


def _target(inputs: Mapping[str, Any], rows: int) -> str | None:
    """The label: a Series or 1-D array input with one value per training row."""
    import numpy as np
    import pandas as pd

    for var, value in inputs.items():
        if isinstance(value, pd.Series) and len(value) == rows:
            return str(value.name) if value.name is not None else var
        if isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == rows:
            return var
    return None


def infer(model: Any, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema of ``model`` fitted on ``inputs`` (the model step's inputs), or None when
    the features cannot be told."""
    import numpy as np

    names = getattr(model, "feature_names_in_", None)
    width = getattr(model, "n_features_in_", None)
    features: list[dict[str, Any]] = []
    layout, rows = "dataframe", 0
    if names is not None:
        wanted = [str(n) for n in names]
        for _var, frame in _frames(inputs):
            columns = {str(c): c for c in frame.columns}
            if set(wanted) <= set(columns):
                features = [_feature(n, frame[columns[n]]) for n in wanted]
                rows = len(frame)
                break
    elif isinstance(width, (int, np.integer)):
        layout = "array"
        for var, value in inputs.items():
            if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == width:
                features = [_feature(f"{var}[{i}]", value[:, i]) for i in range(width)]
                rows = len(value)
                break
        else:
            for _var, frame in _frames(inputs):
                if frame.shape[1] == width:
                    features = [_feature(str(c), frame[c]) for c in frame.columns]
                    rows = len(frame)
                    break
    if not features:
        return None
    classes = getattr(model, "classes_", None)
    return {
        "schema": SCHEMA,
        "layout": layout,  # dataframe: the model takes named columns; array: a 2-D array
        "features": features,
        "target": _target(inputs, rows),
        "task": "classification" if classes is not None else "regression",
        "classes": [_plain(c) for c in classes] if classes is not None else None,
        "proba": callable(getattr(model, "predict_proba", None)),
    }


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


# --- on a request -------------------------------------------------------------------------


def _columns(body: Any, names: list[str] | None, max_rows: int) -> tuple[dict[str, list], int]:
    """{field: values} and the row count of ``{"records": [...]}`` or ``{"columns": {...}}``;
    ``names`` (the schema's features) decide what is missing or extra."""
    if isinstance(body, list):
        body = {"records": body}
    if not isinstance(body, dict):
        raise RequestError([_err((), "the body must be a JSON object with records or columns")])
    records = body.get("records", body.get("dataframe_records"))
    columns = body.get("columns")
    if (records is None) == (columns is None):
        raise RequestError([_err((), 'give either "records" (a list of objects) or "columns"')])
    if records is not None:
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise RequestError([_err(("records",), "must be a list of objects")])
        n = len(records)
        _limit(n, max_rows)
        keys = names if names is not None else list(dict.fromkeys(k for r in records for k in r))
        errors: list[dict[str, Any]] = []
        allowed = set(keys)
        for i, r in enumerate(records):
            for k in r:
                if k not in allowed:
                    errors.append(
                        _err(("records", i, k), "extra field: not a feature of the model")
                    )
            for k in keys:
                if k not in r:
                    errors.append(_err(("records", i, k), "field required", "missing"))
            if len(errors) >= MAX_ERRORS:
                break
        if errors:
            raise RequestError(errors[:MAX_ERRORS])
        return {k: [r[k] for r in records] for k in keys}, n
    if not isinstance(columns, dict) or not all(isinstance(v, list) for v in columns.values()):
        raise RequestError([_err(("columns",), "must be an object of lists")])
    lengths = {len(v) for v in columns.values()}
    n = max(lengths) if lengths else 0
    _limit(n, max_rows)
    if len(lengths) > 1:
        raise RequestError([_err(("columns",), "every column must have the same length")])
    keys = names if names is not None else list(columns)
    errors = [
        _err(("columns", k), "extra field: not a feature of the model")
        for k in columns
        if k not in keys
    ]
    errors += [_err(("columns", k), "field required", "missing") for k in keys if k not in columns]
    if errors:
        raise RequestError(errors[:MAX_ERRORS])
    return {k: columns[k] for k in keys}, n


def _limit(n: int, max_rows: int) -> None:
    if n == 0:
        raise RequestError([_err((), "no rows to predict")])
    if n > max_rows:
        raise RequestError(
            [
                _err(
                    (),
                    f"{n} rows is more than the limit of {max_rows} rows per request (--max-batch)",
                    "too_large",
                )
            ],
            status=413,
        )


def _err(loc: tuple, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


def _check(feature: Mapping[str, Any], values: list, where: str) -> list[dict[str, Any]]:
    name, kind, nullable = feature["name"], feature.get("type"), feature.get("nullable", False)
    errors: list[dict[str, Any]] = []
    for i, v in enumerate(values):
        loc = ("records", i, name) if where == "records" else ("columns", name, i)
        if v is None or (isinstance(v, float) and v != v):
            if not nullable:
                errors.append(
                    _err(loc, "is null or NaN, and the model was trained without missing values")
                )
        elif kind in ("number", "integer"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                errors.append(_err(loc, f"expected a number, got {_json_type(v)}", "type_error"))
            elif isinstance(v, float) and math.isinf(v):
                errors.append(_err(loc, "is infinite"))
            elif kind == "integer" and isinstance(v, float) and not v.is_integer():
                errors.append(_err(loc, f"expected an integer, got {v!r}", "type_error"))
        elif kind == "boolean" and not isinstance(v, bool):
            errors.append(_err(loc, f"expected true or false, got {_json_type(v)}", "type_error"))
        elif kind == "string" and not isinstance(v, str):
            errors.append(_err(loc, f"expected a string, got {_json_type(v)}", "type_error"))
        if len(errors) >= MAX_ERRORS:
            break
    return errors


def _json_type(v: Any) -> str:
    return {bool: "a boolean", str: "a string", dict: "an object", list: "a list"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__
    )


def parse(
    schema: Mapping[str, Any] | None, body: Any, *, max_rows: int
) -> tuple[dict[str, list], int, list[str]]:
    """Checked columns ``{feature: values}`` in the schema's order, the row count, and the
    numeric features with a value outside the range seen in training. Raises RequestError."""
    features = list((schema or {}).get("features") or [])
    names = [f["name"] for f in features] if features else None
    columns, n = _columns(body, names, max_rows)
    errors: list[dict[str, Any]] = []
    outside: list[str] = []
    where = "records" if isinstance(body, list) or "columns" not in body else "columns"
    for f in features:
        values = columns[f["name"]]
        errors += _check(f, values, where)
        if len(errors) >= MAX_ERRORS:
            break
        if "min" in f and not errors:
            nums = [v for v in values if isinstance(v, (int, float)) and v == v]
            if nums and (min(nums) < f["min"] or max(nums) > f["max"]):
                outside.append(f["name"])
    if errors:
        raise RequestError(errors[:MAX_ERRORS])
    return columns, n, outside


def frame(schema: Mapping[str, Any] | None, columns: dict[str, list]) -> Any:
    """What the model's ``predict`` takes: a DataFrame with the training dtypes, or a 2-D
    array for a model fitted on one."""
    import numpy as np
    import pandas as pd

    features = list((schema or {}).get("features") or [])
    if features and schema and schema.get("layout") == "array":
        return np.column_stack([np.asarray(columns[f["name"]], dtype=float) for f in features])
    data = {}
    for f in features or [{"name": k} for k in columns]:
        values = columns[f["name"]]
        kind = f.get("type")
        if kind in ("number", "integer"):
            arr = np.asarray([math.nan if v is None else v for v in values], dtype=float)
            if kind == "integer" and not f.get("nullable") and f.get("dtype", "").startswith("int"):
                arr = arr.astype(f["dtype"])
            data[f["name"]] = arr
        else:
            data[f["name"]] = values
    return pd.DataFrame(data)


def example(schema: Mapping[str, Any], reference: Mapping[str, Any] | None) -> dict[str, Any]:
    """One typical record: each feature's training median (or most frequent category)."""
    ref = (reference or {}).get("features") or {}
    row: dict[str, Any] = {}
    for f in schema.get("features") or []:
        stats = ref.get(f["name"]) or {}
        if f["type"] in ("number", "integer"):
            qs = stats.get("quantiles")
            value = qs[len(qs) // 2] if qs else (f.get("min", 0.0) + f.get("max", 0.0)) / 2
            row[f["name"]] = int(round(value)) if f["type"] == "integer" else float(value)
        elif f["type"] == "boolean":
            row[f["name"]] = False
        else:
            freq = stats.get("frequencies") or {}
            row[f["name"]] = next(iter(freq), (f.get("categories") or [""])[0])
    return row
