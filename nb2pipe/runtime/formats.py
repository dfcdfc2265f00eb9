"""How a value becomes a stored file, and back.

A DataFrame or Series goes to an Arrow IPC file (uncompressed: measured fastest to write
and read, see ``benchmarks/bench_formats.py``), an ndarray (not of objects) to ``.npy``, a
value made of exact builtins to JSON, each only when it reads back equal; a value a format
plugin claims to that plugin's format (:mod:`nb2pipe.runtime.plugins`); everything else
through joblib, or cloudpickle (by value) for what joblib cannot pickle by reference.

"Reads back equal" is decided from the value's types, never by writing and reading it
back: :func:`arrow_ok` holds the table of pandas dtypes and index kinds that round-trip
through Arrow exactly (tested in ``tests/runtime/test_formats.py``). Stores written before
hold Parquet, which is still read.

Values are written straight to a file (``write``), without a copy of their bytes in
memory; ``encode``/``decode`` give bytes for stores that need them (fsspec, KFP).
pandas, numpy, pyarrow and joblib are imported only when a value needs them.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from nb2pipe.runtime import plugins

BUILTIN = ("json", "npy", "arrow", "parquet", "joblib", "cloudpickle")
FORMATS = BUILTIN  # formats plugins add are known through plugins.get()
PICKLED = ("joblib", "cloudpickle")
_SERIES_KEY = b"nb2pipe.series"
_SERIES_COLUMN = "__nb2pipe_series__"
_BATCH_BYTES = 32 << 20  # rows converted to Arrow at a time: bounded extra memory


def known(fmt: str) -> bool:
    return fmt in BUILTIN or plugins.get(fmt) is not None


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


def encode_json(value: Any) -> bytes:
    """The JSON bytes of a value :func:`choose` gave "json" (ValueError otherwise)."""
    data = _encode_json(value)
    if data is None:
        raise ValueError("not a JSON value that reads back equal")
    return data


# --- the table: what reads back equal ----------------------------------------------------

#: pandas extension dtypes (by class name) whose values Arrow round-trips exactly
_ARROW_EXTENSION_DTYPES = frozenset(
    {
        "DatetimeTZDtype",
        "PeriodDtype",
        "ArrowDtype",
        "BooleanDtype",
        *(f"{k}{n}Dtype" for k in ("Int", "UInt") for n in (8, 16, 32, 64)),
        "Float32Dtype",
        "Float64Dtype",
    }
)


def arrow_dtype_ok(dtype: Any) -> bool:
    """Does a column (or index level) of this dtype read back from Arrow with the same
    dtype and values? numpy bool, integers, floats (not complex), datetime64, timedelta64;
    nullable Int/UInt/Float/boolean; tz-aware datetimes; periods; Arrow-backed strings
    and ArrowDtype; categoricals and intervals of such dtypes. Not: object (strings would
    come back as a string dtype), Python-backed strings, sparse, complex."""
    import numpy as np

    if isinstance(dtype, np.dtype):
        return dtype.kind in "biufmM" and not dtype.fields
    name = type(dtype).__name__
    if name in _ARROW_EXTENSION_DTYPES:
        return True
    if name == "StringDtype":
        return getattr(dtype, "storage", "") == "pyarrow"
    if name == "CategoricalDtype":
        return dtype.categories is not None and arrow_dtype_ok(dtype.categories.dtype)
    if name == "IntervalDtype":
        return dtype.subtype is not None and arrow_dtype_ok(dtype.subtype)
    return False


def _index_ok(index: Any) -> bool:
    import pandas as pd

    if type(index) is pd.RangeIndex:
        return True
    if type(index) is pd.MultiIndex:
        return all(_index_ok(level) for level in index.levels) and all(
            n is None or type(n) is str for n in index.names
        )
    if getattr(index, "freq", None) is not None:  # a DatetimeIndex's freq is not stored
        return False
    if type(index.dtype).__name__ in _ARROW_EXTENSION_DTYPES - {"DatetimeTZDtype", "PeriodDtype"}:
        return False  # a nullable Int32 index comes back as int32
    name_ok = index.name is None or type(index.name) is str
    return name_ok and arrow_dtype_ok(index.dtype)


def arrow_ok(value: Any) -> bool:
    """Is ``value`` an exact DataFrame or Series that Arrow stores and reads back equal?"""
    pd = sys.modules.get("pandas")
    if pd is None:
        return False
    if type(value) is pd.Series:
        name = value.name
        return (
            (name is None or type(name) in (str, int, float, bool))
            and not value.attrs
            and value.flags.allows_duplicate_labels
            and arrow_dtype_ok(value.dtype)
            and _index_ok(value.index)
        )
    if type(value) is not pd.DataFrame or value.attrs or not value.flags.allows_duplicate_labels:
        return False
    columns = value.columns
    if type(columns) is not pd.Index or columns.has_duplicates or columns.name is not None:
        return False
    if not all(type(c) is str for c in columns):
        return False
    if len(columns) == 0 or columns.dtype != pd.Index(list(columns)[:1]).dtype:
        return False  # zero columns come back as a RangeIndex; an object Index of strings
        # as a str Index (pandas 3)
    return _index_ok(value.index) and all(arrow_dtype_ok(d) for d in value.dtypes)


# --- Arrow IPC ----------------------------------------------------------------------------


def _as_frame(value: Any) -> tuple[Any, bytes | None]:
    import pandas as pd

    if type(value) is pd.Series:
        return pd.DataFrame({_SERIES_COLUMN: value}), json.dumps({"name": value.name}).encode()
    return value, None


def _write_arrow(value: Any, sink: Any) -> None:
    """Write in slices of rows, so the Arrow copy of a large frame never exists whole."""
    import pyarrow as pa

    frame, meta = _as_frame(value)
    schema = pa.Schema.from_pandas(frame, preserve_index=None)
    if meta is not None:
        schema = schema.with_metadata({**(schema.metadata or {}), _SERIES_KEY: meta})
    row_bytes = max(1, int(frame.memory_usage(index=True, deep=False).sum()) // max(1, len(frame)))
    rows = max(1024, _BATCH_BYTES // row_bytes)
    with pa.ipc.new_file(sink, schema) as writer:
        for start in range(0, max(len(frame), 1), rows):
            part = frame.iloc[start : start + rows]  # (chunked Arrow columns: a table)
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=None))


def _from_table(table: Any) -> Any:
    meta = (table.schema.metadata or {}).get(_SERIES_KEY)
    frame = table.to_pandas()
    if meta is None:
        return frame
    series = frame[_SERIES_COLUMN]
    series.name = json.loads(meta)["name"]
    return series


def _read_arrow(source: Any) -> Any:
    import pyarrow as pa

    return _from_table(pa.ipc.open_file(source).read_all())


def _decode_parquet(data: Any) -> Any:
    """Stores written before Arrow IPC hold DataFrames and Series as Parquet."""
    import pyarrow.parquet as pq

    return _from_table(pq.read_table(data))


# --- pickles ----------------------------------------------------------------------------


def _write_pickled(value: Any, f: Any) -> str:
    """joblib, else cloudpickle: by value, for functions and classes defined inside a step
    (closures, conditional definitions), which plain pickle can store only by reference."""
    import pickle

    import joblib

    start = f.tell()
    try:
        joblib.dump(value, f)
        return "joblib"
    except (pickle.PicklingError, AttributeError, TypeError):
        import cloudpickle

        f.seek(start)
        f.truncate()
        cloudpickle.dump(value, f)
        return "cloudpickle"


# --- public -----------------------------------------------------------------------------


def choose(value: Any) -> str:
    """The format ``value`` is stored in, from its types alone ("pickle": joblib, or
    cloudpickle if joblib cannot)."""
    if _plain_json(value):
        return "json"
    np = sys.modules.get("numpy")
    if np is not None and type(value) is np.ndarray and not value.dtype.hasobject:
        return "npy"
    if arrow_ok(value):
        return "arrow"
    plugin = plugins.claiming(value)
    if plugin is not None:
        return plugin.name
    return "pickle"


def _open_new(path: str | os.PathLike[str]) -> Any:
    return open(path, "wb")


def write(
    value: Any,
    fmt: str,
    path: str | os.PathLike[str],
    opener: Callable[[Any], Any] = _open_new,
) -> str:
    """Write ``value`` to the new file ``path`` (opened with ``opener``) in ``fmt`` (from
    :func:`choose`); returns the format written (a pickle is joblib or cloudpickle)."""
    plugin = None if fmt in BUILTIN or fmt == "pickle" else plugins.get(fmt)
    if plugin is not None:
        plugin.write(value, os.fspath(path))
        return fmt
    with opener(path) as f:
        if fmt == "json":
            f.write(encode_json(value))
        elif fmt == "npy":
            import numpy as np

            np.save(f, value, allow_pickle=False)
        elif fmt == "arrow":
            import pyarrow as pa

            sink = pa.PythonFile(f, mode="w")
            _write_arrow(value, sink)
            sink.close()
        elif fmt in ("pickle", *PICKLED):
            fmt = _write_pickled(value, f)
        else:
            raise ValueError(f"unknown artifact format {fmt!r}")
    return fmt


def read(path: str | os.PathLike[str], fmt: str) -> Any:
    """The value stored in ``path``; Arrow files are memory-mapped, then copied once into
    pandas (the frame is writable, as the notebook's was)."""
    if fmt == "arrow":
        import pyarrow as pa

        return _read_arrow(pa.memory_map(os.fspath(path)))
    if fmt == "npy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    if fmt == "parquet":
        return _decode_parquet(os.fspath(path))
    plugin = None if fmt in BUILTIN else plugins.get(fmt)
    if plugin is not None:
        return plugin.read(os.fspath(path))
    with open(path, "rb") as f:
        return decode(f.read(), fmt)


def encode(value: Any) -> tuple[str, bytes]:
    """The format chosen for ``value`` and its bytes (for stores without local files)."""
    fmt = choose(value)
    if fmt == "json":
        return fmt, _encode_json(value) or b""
    buf = io.BytesIO()
    if fmt == "npy":
        import numpy as np

        np.save(buf, value, allow_pickle=False)
    elif fmt == "arrow":
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        _write_arrow(value, sink)
        return fmt, sink.getvalue().to_pybytes()
    elif fmt == "pickle":
        fmt = _write_pickled(value, buf)
    else:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="nb2pipe-") as folder:
            path = os.path.join(folder, "value")
            write(value, fmt, path)
            with open(path, "rb") as f:
                return fmt, f.read()
    return fmt, buf.getvalue()


def decode(data: bytes, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(data)
    if fmt == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if fmt == "arrow":
        import pyarrow as pa

        return _read_arrow(pa.BufferReader(data))
    if fmt == "parquet":
        return _decode_parquet(io.BytesIO(data))
    if fmt == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if fmt == "cloudpickle":
        import cloudpickle

        return cloudpickle.loads(data)
    plugin = plugins.get(fmt)
    if plugin is None:
        raise ValueError(f"unknown artifact format {fmt!r}")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nb2pipe-") as folder:
        path = os.path.join(folder, "value")
        with open(path, "wb") as f:
            f.write(data)
        return plugin.read(path)
