"""Value fingerprints (xxh3-128): what a value is, hashed from its data buffers.

- :func:`data_digest`: an exact ndarray, DataFrame or Series, hashed from its buffers in
  place (dtypes, shape, index, columns, then each column's values; several GB/s). Only
  the value counts, never its memory layout: C or Fortran order, how pandas groups columns
  into blocks, how Arrow cuts a column into chunks or slices a shared buffer, what lies
  under a missing value. A frame built in memory and the same frame read back from the
  store (in a worker) have one digest, so every executor computes the same cache keys.
  It names the content of such an output in cache keys, and the writer checks it again
  after storing the value, so a value changed while it was written is never kept.
- :func:`fingerprint`: any value, for the guard that tells whether a step changed an
  input in place. Arrays and pandas objects by their buffers; scikit-learn estimators by
  their public attributes (parameters and fitted ``*_`` attributes, not private caches);
  scipy sparse matrices by shape and CSR arrays (not their lazily computed flags);
  functions by code, defaults and closure values; other objects by their pickled state
  (``functools.cached_property`` values left out). Never compared: matplotlib and seaborn
  objects (a figure's internals, a colormap's lazily filled lookup table) and values with
  no state to compare (generators, open files, connections, locks): those are named in the
  notes. A value that cannot be hashed at all raises :class:`Unhashable`.
"""

from __future__ import annotations

import functools
import io
import pickle
import sys
import types
from typing import Any

_SKIPPED_PACKAGES = frozenset({"matplotlib", "mpl_toolkits", "seaborn"})
_NO_STATE = (
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.FrameType,
    types.TracebackType,
    io.IOBase,
)
_NO_STATE_TYPES = frozenset(
    {
        ("sqlite3", "Connection"),
        ("sqlite3", "Cursor"),
        ("_thread", "lock"),
        ("_thread", "RLock"),
        ("socket", "socket"),
        ("mmap", "mmap"),
    }
)
_BAND = 1 << 18  # bytes reordered at a time (in the L2 cache)
_ATOMIC = frozenset({int, float, complex, str, bytes, bool, type(None), tuple, list, dict, set})


class Unhashable(Exception):
    """The value cannot be fingerprinted (the message says why, in a few words)."""


def stateless(value: Any) -> bool:
    """A generator, open file, connection, lock...: a handle, not a value to store."""
    t = type(value)
    return isinstance(value, _NO_STATE) or (t.__module__, t.__name__) in _NO_STATE_TYPES


def _new() -> Any:
    import xxhash

    return xxhash.xxh3_128()


def _token(*parts: Any) -> tuple[Any, ...]:
    """Stands for a value in the pickled stream of :func:`fingerprint`."""
    return parts


# --- data buffers ---------------------------------------------------------------------------


def _feed_array(h: Any, arr: Any, notes: list[str]) -> None:
    import numpy as np

    h.update(f"nd{type(arr).__name__}{arr.dtype!r}{arr.shape}".encode())
    if arr.dtype == np.float16:  # NaNs of any payload as one (Arrow does not keep them)
        arr = np.where(np.isnan(arr), np.float16("nan"), arr)
    if arr.dtype.hasobject:
        h.update(fingerprint(arr.tolist(), notes).encode())
        return
    if arr.size == 0:
        return
    if arr.flags.c_contiguous:
        h.update(arr.reshape(-1).view(np.uint8).data)
    else:  # Fortran order or a strided view: its bytes in C order, a band at a time
        for band in _bands(arr, 0, 1):
            h.update(band.reshape(-1).view(np.uint8).data)


def _bands(arr: Any, axis: int, min_rows: int) -> Any:
    """``arr`` (strided) in C order, a band of ``axis`` (0 or the last of two) at a time,
    copied into one reused buffer of a few hundred KB: reordering in cache runs several
    times faster than a copy of the whole, and costs no second copy of a large value."""
    import numpy as np

    length = arr.shape[axis]
    per_row = arr.itemsize * (arr.size // max(1, length))
    rows = max(min_rows, _BAND // max(1, per_row))
    shape = list(arr.shape)
    shape[axis] = min(rows, length)
    buf = np.empty(shape, arr.dtype)
    for i in range(0, length, rows):
        src = arr[i : i + rows] if axis == 0 else arr[:, i : i + rows]
        out = buf[: len(src)] if axis == 0 else buf[:, : src.shape[1]]
        np.copyto(out, src)
        yield out


def _feed_values(h: Any, values: Any, notes: list[str]) -> None:
    """A column's values: an ndarray or a pandas extension array."""
    import numpy as np

    if isinstance(values, np.ndarray):
        _feed_array(h, values, notes)
        return
    h.update(f"ea{type(values).__name__}{values.dtype!r}{len(values)}".encode())
    name = type(values).__name__
    if name == "Categorical":
        _feed_array(h, values.codes, notes)
        _feed_index(h, values.categories, notes)
    elif hasattr(values, "_pa_array"):  # Arrow-backed
        _feed_arrow(h, values._pa_array, notes)
    elif hasattr(values, "_data") and hasattr(values, "_mask"):  # nullable Int, boolean
        data, mask = values._data, values._mask
        if mask.any():  # what lies under a missing value is not the value
            data = np.where(mask, np.zeros(1, data.dtype), data)
        _feed_array(h, data, notes)
        _feed_array(h, mask, notes)
    elif hasattr(values, "_ndarray"):  # datetimes, timedeltas, periods, Python strings
        _feed_array(h, values._ndarray, notes)
    elif name == "IntervalArray":
        _feed_values(h, values.left._values, notes)
        _feed_values(h, values.right._values, notes)
    else:  # sparse and others: their values as objects (slower, still exact)
        _feed_array(h, np.asarray(values, dtype=object), notes)


def _feed_arrow(h: Any, chunked: Any, notes: list[str]) -> None:
    """A chunked Arrow array by its values alone: not how it is cut into chunks, sliced
    (offsets into shared buffers), padded, or whether an all-valid bitmap is present."""
    import numpy as np
    import pyarrow as pa

    t = chunked.type
    h.update(f"pa{t}{len(chunked)}:{chunked.null_count}".encode())
    boolean = pa.types.is_boolean(t)
    fixed = not boolean and pa.types.is_primitive(t) and t.bit_width % 8 == 0
    strings = pa.types.is_string(t) or pa.types.is_binary(t)
    large = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
    if not (boolean or fixed or strings or large):  # nested, decimals...: values as objects
        h.update(fingerprint(chunked.to_pylist(), notes).encode())
        return
    nulls, lengths, data = _new(), _new(), _new()
    for chunk in chunked.chunks:
        start, n, buffers = chunk.offset, len(chunk), chunk.buffers()
        if n == 0:
            continue
        if chunked.null_count:
            nulls.update(np.asarray(chunk.is_null()).view(np.uint8).data)
        if boolean:  # bit-packed: one byte per value
            data.update(np.asarray(chunk.fill_null(False)).view(np.uint8).data)
            continue
        if fixed:
            width = t.bit_width // 8
            values = memoryview(buffers[1])[start * width : (start + n) * width]
            if chunk.null_count:  # the bytes under a null are arbitrary: zeros instead
                rows = np.frombuffer(values, np.uint8).reshape(n, width).copy()
                rows[np.asarray(chunk.is_null())] = 0
                values = memoryview(rows).cast("B")
            data.update(values)
            continue
        offsets = np.frombuffer(buffers[1], np.int64 if large else np.int32)
        offsets = offsets[start : start + n + 1]
        lengths.update(np.diff(offsets).data)
        data.update(memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])])
    h.update(nulls.digest() + lengths.digest() + data.digest())


def _feed_index(h: Any, index: Any, notes: list[str]) -> None:
    import pandas as pd

    h.update(f"ix{type(index).__name__}{list(index.names)!r}".encode())
    if type(index) is pd.RangeIndex:
        h.update(f"{index.start}:{index.stop}:{index.step}".encode())
    elif isinstance(index, pd.MultiIndex):
        for level, codes in zip(index.levels, index.codes, strict=True):
            _feed_index(h, level, notes)
            _feed_array(h, codes, notes)
    else:
        _feed_values(h, index._values, notes)
        if getattr(index, "freq", None) is not None:
            h.update(str(index.freq).encode())


def _feed_pandas(h: Any, obj: Any, notes: list[str]) -> None:
    import pandas as pd

    h.update(f"pd{type(obj).__name__}{obj.flags.allows_duplicate_labels}".encode())
    if obj.attrs:
        h.update(fingerprint(obj.attrs, notes).encode())
    _feed_index(h, obj.index, notes)
    if isinstance(obj, pd.Series):
        h.update(repr(obj.name).encode())
        _feed_values(h, obj._values, notes)
        return
    _feed_index(h, obj.columns, notes)
    try:
        blocks = obj._mgr.blocks
    except AttributeError:  # pragma: no cover - another pandas layout: column by column
        for i in range(obj.shape[1]):
            _feed_values(h, obj.iloc[:, i]._values, notes)
        return
    columns: list[bytes] = [b""] * obj.shape[1]
    for block in blocks:
        locs = block.mgr_locs.as_array
        for loc, digest in zip(locs, _column_digests(block.values, notes), strict=True):
            columns[loc] = digest
    for digest in columns:
        h.update(digest)


def _column_digests(values: Any, notes: list[str]) -> list[bytes]:
    """The digest of each column of a block, as if each were a 1-d array of its own: how
    pandas happens to group columns into blocks, and their memory order (a frame built in
    memory vs the same frame read back), never changes a frame's digest."""
    import numpy as np

    if getattr(values, "ndim", 1) == 2 and hasattr(values, "_ndarray"):  # tz-naive times
        values = values._ndarray
    if not isinstance(values, np.ndarray) or values.ndim == 1:  # one extension column
        h = _new()
        _feed_values(h, values, notes)
        return [h.digest()]
    hashers = [_new() for _ in range(values.shape[0])]
    if values.dtype.hasobject or values.flags.c_contiguous or values.shape[1] == 0:
        for h, column in zip(hashers, values, strict=True):
            _feed_array(h, column, notes)
        return [h.digest() for h in hashers]
    # Columns strided in memory (a block in Fortran order): a band of rows at a time in
    # column order, so each column's bytes reach its own hasher in sequence.
    header = f"ndndarray{values.dtype!r}{(values.shape[1],)}".encode()
    for h in hashers:
        h.update(header)
    for band in _bands(values, 1, 512):
        for h, column in zip(hashers, band.view(np.uint8), strict=True):
            h.update(column.data)
    return [h.digest() for h in hashers]


def data_digest(value: Any, notes: list[str] | None = None) -> str | None:
    """The digest of an exact ndarray, DataFrame or Series; None for other values."""
    t = type(value)
    module = t.__module__.split(".")[0]
    if module not in ("numpy", "pandas"):
        return None
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    h = _new()
    notes = [] if notes is None else notes
    if np is not None and t is np.ndarray:
        _feed_array(h, value, notes)
    elif pd is not None and t in (pd.DataFrame, pd.Series):
        _feed_pandas(h, value, notes)
    else:
        return None
    return str(h.hexdigest())


# --- any value ------------------------------------------------------------------------------


class _Sink:
    def __init__(self) -> None:
        self.h = _new()

    def write(self, data: bytes) -> int:
        self.h.update(data)
        return len(data)


def _has_default_pickling(t: type) -> bool:
    return (
        t.__reduce_ex__ is object.__reduce_ex__
        and t.__reduce__ is object.__reduce__
        and getattr(t, "__getstate__", None) in (None, getattr(object, "__getstate__", None))
    )


def _public_state(obj: Any) -> dict[str, Any]:
    """Attributes without a leading underscore (sklearn: parameters and fitted ``*_``)."""
    return {k: v for k, v in sorted(vars(obj).items()) if not k.startswith("_")}


def _object_state(obj: Any) -> dict[str, Any]:
    """``vars(obj)`` without the values of ``functools.cached_property`` (lazy caches)."""
    t = type(obj)
    return {
        k: v
        for k, v in vars(obj).items()
        if not isinstance(getattr(t, k, None), functools.cached_property)
    }


def _closure(fn: types.FunctionType) -> list[Any]:
    out: list[Any] = []
    for cell in fn.__closure__ or ():
        try:
            out.append(cell.cell_contents)
        except ValueError:  # an empty cell
            out.append(_token("empty cell"))
    return out


class _Pickler(pickle.Pickler):
    def __init__(self, sink: _Sink, notes: list[str]) -> None:
        super().__init__(sink, protocol=5)
        # No memo: what is shared with what (object identities, which a copy read back
        # from the store does not keep) never changes a fingerprint. A cycle is refused
        # ("recursive"), so a value holding one is not compared, with a note.
        self.fast = True
        self.notes = notes

    def skip(self, obj: Any, why: str) -> tuple[Any, ...]:
        note = f"{type(obj).__module__}.{type(obj).__qualname__}: {why}"
        if note not in self.notes:
            self.notes.append(note)
        return ("skipped", type(obj).__qualname__)

    def persistent_id(self, obj: Any) -> Any:
        """Values compared by content alone, whether or not they are shared (a copy read
        back has equal arrays, not the same ones): arrays, pandas objects, classes,
        modules, and what is never compared."""
        t = type(obj)
        if t in _ATOMIC:
            return None
        if isinstance(obj, type):
            return ("class", obj.__module__, obj.__qualname__)
        if isinstance(obj, types.ModuleType):
            return ("module", obj.__name__)
        package = t.__module__.split(".")[0]
        if package in ("numpy", "pandas"):
            return self._data(obj, t)
        if package in _SKIPPED_PACKAGES:
            return ("not compared", t.__module__, t.__qualname__)
        if stateless(obj):
            return self.skip(obj, "no value to compare")
        return None

    def _data(self, obj: Any, t: type) -> Any:
        digest = data_digest(obj, self.notes)
        if digest is not None:
            return ("data", digest)
        np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
        h = _new()
        if np is not None and isinstance(obj, np.ma.MaskedArray):
            _feed_array(h, np.ma.getdata(obj), self.notes)
            _feed_array(h, np.ma.getmaskarray(obj), self.notes)
        elif np is not None and isinstance(obj, np.ndarray):
            _feed_array(h, obj, self.notes)
        elif pd is not None and isinstance(obj, pd.Index):
            _feed_index(h, obj, self.notes)
        elif pd is not None and isinstance(obj, pd.api.extensions.ExtensionArray):
            _feed_values(h, obj, self.notes)
        elif pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):  # subclasses
            _feed_pandas(h, obj, self.notes)
            h.update(fingerprint(_object_state(obj), self.notes).encode())
        else:
            return None  # numpy scalars, dtypes...: pickled as usual
        return (t.__module__, t.__qualname__, h.hexdigest())

    def reducer_override(self, obj: Any) -> Any:
        t = type(obj)
        if obj is _token:
            return NotImplemented
        package = t.__module__.split(".")[0]
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            consts = tuple(c for c in code.co_consts if not isinstance(c, types.CodeType))
            state = (obj.__defaults__, obj.__kwdefaults__, _closure(obj), consts, obj.__dict__)
            ident = ("function", obj.__module__, obj.__qualname__, code.co_code, code.co_names)
            return (_token, ident, state)
        if isinstance(obj, types.MethodType):
            return (_token, ("method", obj.__func__.__qualname__), (obj.__func__, obj.__self__))
        if isinstance(obj, (types.BuiltinFunctionType, types.MethodWrapperType)):
            return (_token, ("builtin", getattr(obj, "__qualname__", repr(t))))
        if package == "scipy" and t.__module__.startswith("scipy.sparse") and hasattr(obj, "tocsr"):
            csr = obj.tocsr()  # the matrix's values, not its lazily computed format flags
            state = (csr.shape, csr.data, csr.indices, csr.indptr)
            return (_token, ("sparse", t.__qualname__), state)
        base = sys.modules.get("sklearn.base")
        if base is not None and isinstance(obj, base.BaseEstimator) and hasattr(obj, "__dict__"):
            return (_token, ("estimator", t.__module__, t.__qualname__), _public_state(obj))
        if hasattr(obj, "__dict__") and _has_default_pickling(t) and not hasattr(t, "__slots__"):
            return (_token, ("object", t.__module__, t.__qualname__), _object_state(obj))
        try:
            return obj.__reduce_ex__(5)
        except Exception as exc:  # noqa: BLE001 - e.g. "cannot pickle 'X' object"
            return (_token, self.skip(obj, " ".join(str(exc).split())[:80] or type(exc).__name__))


def fingerprint(value: Any, notes: list[str] | None = None) -> str:
    """The guard's fingerprint of ``value``; parts not compared are appended to ``notes``.
    Raises :class:`Unhashable` when there is nothing sound to compare."""
    notes = [] if notes is None else notes
    digest = data_digest(value, notes)
    if digest is not None:
        return digest
    sink = _Sink()
    try:
        _Pickler(sink, notes).dump(value)
    except RecursionError:
        raise Unhashable("it is nested too deeply to compare") from None
    except ValueError as exc:
        if "cyclic" not in str(exc) and "recursive" not in str(exc):
            raise Unhashable(f"ValueError: {' '.join(str(exc).split())[:120]}") from None
        raise Unhashable("it refers to itself (a cycle): not compared") from None
    except Exception as exc:  # noqa: BLE001 - whatever a reducer raises
        detail = " ".join(str(exc).split())[:120]
        raise Unhashable(
            f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        ) from None
    return str(sink.h.hexdigest())
