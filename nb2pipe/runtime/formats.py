"""How a value becomes bytes, and back.

Parquet (DataFrame, Series), ``.npy`` (ndarray) or JSON only when the value reads back
equal (dtypes, index, column names, tuple vs list, int vs float vs bool); joblib for
everything else, and cloudpickle (by value) for what joblib cannot pickle by reference.
pandas, numpy, pyarrow and joblib are imported only when a value needs them: a value of
a library the step did not import cannot exist in this process.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

FORMATS = ("json", "npy", "parquet", "joblib", "cloudpickle")
_SERIES_KEY = b"nb2pipe.series"
_SERIES_COLUMN = "__nb2pipe_series__"


# --- JSON -------------------------------------------------------------------------------


def _plain_json(value: Any, depth: int = 0) -> bool:
    """Only exact builtin types: a numpy float or a str subclass would not read back."""
    if depth > 100:
        return False
    t = type(value)
    if value is None or t in (bool, int, str):
        return True
    if t is float:
        return value == value  # NaN never reads back equal
    if t is list:
        return all(_plain_json(v, depth + 1) for v in value)
    if t is dict:
        return all(type(k) is str and _plain_json(v, depth + 1) for k, v in value.items())
    return False


def _encode_json(value: Any) -> bytes | None:
    if not _plain_json(value):
        return None
    data = json.dumps(value, ensure_ascii=False, allow_nan=True).encode()
    return data if json.loads(data) == value else None


# --- numpy ------------------------------------------------------------------------------


def _encode_npy(value: Any, check: bool = True) -> bytes | None:
    np = sys.modules.get("numpy")
    if np is None or type(value) is not np.ndarray or value.dtype.hasobject:
        return None
    buf = io.BytesIO()
    np.save(buf, value, allow_pickle=False)
    # The .npy format stores the raw buffer with dtype and shape: it always reads back equal.
    return buf.getvalue()


# --- pandas -----------------------------------------------------------------------------


def _encode_parquet(value: Any, check: bool = True) -> bytes | None:
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    if type(value) is pd.Series:
        name = value.name
        if not (name is None or type(name) in (str, int, float, bool)):
            return None
        frame = pd.DataFrame({_SERIES_COLUMN: value})
        meta = json.dumps({"name": name}).encode()
    elif type(value) is pd.DataFrame:
        frame, meta = value, None
        if value.attrs or not all(type(c) is str for c in value.columns):
            return None
        if value.columns.has_duplicates:
            return None
    else:
        return None
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=None)
        if meta is not None:
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), _SERIES_KEY: meta}
            )
        buf = io.BytesIO()
        pq.write_table(table, buf)
        data = buf.getvalue()
        if check and not _equal_pandas(value, _decode_parquet(data)):
            return None
        return data
    except Exception:  # noqa: BLE001 - anything parquet cannot hold goes to joblib
        return None


def _equal_pandas(a: Any, b: Any) -> bool:
    import pandas as pd

    if type(a) is not type(b):
        return False
    try:
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(
                a,
                b,
                check_exact=True,
                check_index_type=True,
                check_column_type=True,
                check_frame_type=True,
                check_names=True,
                check_flags=True,
                check_freq=True,
            )
        else:
            pd.testing.assert_series_equal(
                a,
                b,
                check_exact=True,
                check_index_type=True,
                check_series_type=True,
                check_names=True,
                check_flags=True,
                check_freq=True,
            )
    except (AssertionError, TypeError, ValueError):
        return False
    return a.attrs == b.attrs


def _decode_parquet(data: bytes) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    meta = (table.schema.metadata or {}).get(_SERIES_KEY)
    frame = table.to_pandas()
    if meta is None:
        return frame
    series = frame[_SERIES_COLUMN]
    series.name = json.loads(meta)["name"]
    return series


# --- joblib -----------------------------------------------------------------------------


def _encode_joblib(value: Any) -> bytes:
    import joblib

    buf = io.BytesIO()
    joblib.dump(value, buf)
    return buf.getvalue()


def _encode_cloudpickle(value: Any) -> bytes:
    """By value: functions and classes defined inside a step (closures, conditional
    definitions), which plain pickle can only store by reference."""
    import cloudpickle

    return cloudpickle.dumps(value)


def _encode_pickled(value: Any) -> tuple[str, bytes]:
    import pickle

    try:
        return "joblib", _encode_joblib(value)
    except (pickle.PicklingError, AttributeError, TypeError):
        return "cloudpickle", _encode_cloudpickle(value)


# --- public -----------------------------------------------------------------------------


def encode(value: Any) -> tuple[str, bytes]:
    """The format chosen for ``value`` and its bytes."""
    data = _encode_json(value)
    if data is not None:
        return "json", data
    data = _encode_npy(value)
    if data is not None:
        return "npy", data
    data = _encode_parquet(value)
    if data is not None:
        return "parquet", data
    return _encode_pickled(value)


def encode_as(value: Any, fmt: str) -> bytes | None:
    """Bytes of ``value`` in a given format (for the mutation guard); None if it no
    longer fits that format (which means it changed)."""
    if fmt == "json":
        return _encode_json(value)
    if fmt == "npy":
        return _encode_npy(value, check=False)
    if fmt == "parquet":
        return _encode_parquet(value, check=False)
    if fmt == "cloudpickle":
        return _encode_cloudpickle(value)
    return _encode_joblib(value)


def decode(data: bytes, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(data)
    if fmt == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if fmt == "parquet":
        return _decode_parquet(data)
    if fmt == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if fmt == "cloudpickle":
        import cloudpickle

        return cloudpickle.loads(data)
    raise ValueError(f"unknown artifact format {fmt!r}")
