"""A value is stored as Arrow, .npy or JSON only when it reads back equal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2pipe.runtime import formats
from nb2pipe.runtime.fingerprint import data_digest
from nb2pipe.runtime.store import LocalStore


def roundtrip(value: Any) -> tuple[str, Any]:
    fmt, data = formats.encode(value)
    return fmt, formats.decode(data, fmt)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ({"a": [1, 2.5, True, None, "x"]}, "json"),
        ([1, 2, 3], "json"),
        ("text", "json"),
        (0.1, "json"),
        (None, "json"),
        ((1, 2), "joblib"),  # a tuple would read back as a list
        ({1: "a"}, "joblib"),  # int keys would read back as strings
        (float("nan"), "joblib"),
        (np.float64(1.5), "joblib"),  # a numpy scalar would read back as float
        ({"a": (1, 2)}, "joblib"),
        ({1, 2}, "joblib"),
    ],
)
def test_builtin_values(value: Any, fmt: str) -> None:
    got_fmt, back = roundtrip(value)
    assert got_fmt == fmt
    if value == value:
        assert back == value and type(back) is type(value)


def test_arrays() -> None:
    for arr in (np.arange(12).reshape(3, 4), np.array([1.5, np.nan]), np.array(["a", "bc"])):
        fmt, back = roundtrip(arr)
        assert fmt == "npy" and back.dtype == arr.dtype
        np.testing.assert_array_equal(back, arr)
    fmt, back = roundtrip(np.array([1, "a", None], dtype=object))
    assert fmt == "joblib" and list(back) == [1, "a", None]
    fmt, _ = roundtrip(np.ma.masked_array([1, 2], mask=[0, 1]))
    assert fmt == "joblib"


def test_dataframes() -> None:
    df = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, np.nan, 2.0],
            "s": ["a", "b", None],
            "c": pd.Categorical(["x", "y", "x"]),
            "t": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
            "b": [True, False, True],
        },
        index=pd.Index([10, 20, 30], name="id"),
    )
    fmt, back = roundtrip(df)
    assert fmt == "arrow"
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    fmt, back = roundtrip(df.iloc[1:])  # a non-default RangeIndex
    pd.testing.assert_frame_equal(back, df.iloc[1:])
    multi = df.set_index(["i", "s"])
    fmt, back = roundtrip(multi)
    assert fmt == "arrow"
    pd.testing.assert_frame_equal(back, multi)
    fmt, back = roundtrip(pd.DataFrame(np.eye(2)))  # int column names: not Arrow
    assert fmt == "joblib"
    pd.testing.assert_frame_equal(back, pd.DataFrame(np.eye(2)))
    tagged = df.copy()
    tagged.attrs["source"] = "lab"
    assert roundtrip(tagged)[0] == "joblib"
    mixed = pd.DataFrame({"m": [1, "a", 2.5]})  # mixed object column
    fmt, back = roundtrip(mixed)
    pd.testing.assert_frame_equal(back, mixed)


def test_series() -> None:
    for s in (
        pd.Series([1.0, 2.0], name="x"),
        pd.Series([1, 2], index=["a", "b"]),
        pd.Series(["a", "b"], name=3),
    ):
        fmt, back = roundtrip(s)
        assert fmt == "arrow"
        pd.testing.assert_series_equal(back, s)
    odd = pd.Series([1, 2], name=("a", "b"))
    fmt, back = roundtrip(odd)
    assert fmt == "joblib" and back.name == ("a", "b")


def _col(values: Any, dtype: Any = None) -> pd.DataFrame:
    return pd.DataFrame({"x": pd.Series(values, dtype=dtype)})


# The table of what reads back equal through Arrow (formats.arrow_ok), each case a frame
# and the format the store must choose: "arrow" claims an exact round trip; anything
# else must go to a pickle (and still read back equal).
TABLE = {
    "int8": (_col([1, -2, 3], "int8"), "arrow"),
    "uint64": (_col([0, 2**64 - 1], "uint64"), "arrow"),
    "float16": (_col([0.5, np.nan], "float16"), "arrow"),
    "float64 nan inf -0": (_col([np.nan, np.inf, -0.0, 1e-300]), "arrow"),
    "bool": (_col([True, False]), "arrow"),
    "datetime64[ns]": (_col(pd.date_range("2024", periods=3, unit="ns")), "arrow"),
    "datetime64[s] with NaT": (_col(["2024-01-01", None], "datetime64[s]"), "arrow"),
    "tz-aware": (
        _col(pd.date_range("2024-03-30", periods=3, freq="h", tz="Europe/Paris")),
        "arrow",
    ),
    "timedelta": (_col(pd.to_timedelta([1, 2, None], unit="s")), "arrow"),
    "categorical": (_col(pd.Categorical(["b", "a", None, "b"])), "arrow"),
    "ordered categorical of ints": (_col(pd.Categorical([3, 1, 3], ordered=True)), "arrow"),
    "categorical with unused categories": (
        _col(pd.Categorical(["a"], categories=["a", "b", "c"])),
        "arrow",
    ),
    "nullable Int64": (_col([1, None, 3], "Int64"), "arrow"),
    "nullable UInt8": (_col([1, None], "UInt8"), "arrow"),
    "nullable boolean": (_col([True, None], "boolean"), "arrow"),
    "nullable Float64": (_col([1.5, None], "Float64"), "arrow"),
    "str (Arrow-backed)": (_col(["a", None, "é"], "str"), "arrow"),
    "string[pyarrow]": (_col(["a", None], "string[pyarrow]"), "arrow"),
    "ArrowDtype int": (_col([1, None], "int64[pyarrow]"), "arrow"),
    "period": (_col(pd.period_range("2024-01", periods=3, freq="M")), "arrow"),
    "interval": (_col(pd.interval_range(0, 3)), "arrow"),
    "MultiIndex rows": (
        pd.DataFrame(
            {"v": [1.0, 2.0, 3.0, 4.0]},
            index=pd.MultiIndex.from_product([[1, 2], ["a", "b"]], names=["n", "s"]),
        ),
        "arrow",
    ),
    "DatetimeIndex without freq": (
        pd.DataFrame({"v": [1, 2]}, index=pd.DatetimeIndex(["2024-01-01", "2024-01-05"])),
        "arrow",
    ),
    "named RangeIndex with a step": (
        pd.DataFrame({"v": [1, 2]}, index=pd.RangeIndex(10, 14, 2, name="r")),
        "arrow",
    ),
    "empty": (_col(np.array([], dtype="float64")), "arrow"),
    # falls back to a pickle:
    "object strings": (_col(["a", "b"], object), "joblib"),  # would come back as str
    "object mixed": (_col([1, "a", None], object), "joblib"),
    "object bytes": (_col([b"a", b"b"], object), "joblib"),
    "string[python]": (_col(["a", None], "string[python]"), "joblib"),
    "categorical of objects": (
        _col(pd.Categorical(pd.Index(["a", "b"], dtype=object))),
        "joblib",
    ),
    "complex": (_col([1 + 2j]), "joblib"),
    "sparse": (_col(pd.arrays.SparseArray([0, 0, 1])), "joblib"),
    "DatetimeIndex with freq": (
        pd.DataFrame({"v": [1, 2]}, index=pd.date_range("2024", periods=2)),
        "joblib",
    ),
    "nullable Int64 index": (
        pd.DataFrame({"v": [1, 2]}, index=pd.Index([1, 2], dtype="Int64")),
        "joblib",
    ),  # would come back as int64
    "object index": (pd.DataFrame({"v": [1]}, index=pd.Index(["a"], dtype=object)), "joblib"),
    "int column names": (pd.DataFrame({0: [1]}), "joblib"),
    "MultiIndex columns": (
        pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])),
        "joblib",
    ),
    "duplicate columns": (pd.DataFrame([[1, 2]], columns=["a", "a"]), "joblib"),
    "no columns": (pd.DataFrame(index=range(3)), "joblib"),
    "flags": (pd.DataFrame({"v": [1]}).set_flags(allows_duplicate_labels=False), "joblib"),
    "attrs": (pd.DataFrame({"v": [1]}), "joblib"),
}
TABLE["attrs"][0].attrs["unit"] = "kg"
# cases about the frame's labels, not its first column's values
FRAME_ONLY = {"int column names", "MultiIndex columns", "duplicate columns", "no columns"}


@pytest.mark.parametrize("case", list(TABLE))
def test_format_table(case: str, tmp_path: Any) -> None:
    frame, expected = TABLE[case]
    store = LocalStore(tmp_path)
    values = [frame] if case in FRAME_ONLY else [frame, frame.iloc[:, 0]]
    for value in values:
        if case == "attrs":
            value.attrs["unit"] = "kg"
        ref = store.save(value)
        assert ref.format == expected, case
        back = store.load(ref)
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(back, value, check_exact=True, check_flags=True)
        else:
            pd.testing.assert_series_equal(back, value, check_exact=True, check_flags=True)
        assert back.attrs == value.attrs
        assert data_digest(back) == data_digest(value), case  # the same cache key


def test_stored_frames_store_again_the_same(tmp_path: Any) -> None:
    """A frame read back from Arrow (chunked columns, one chunk per written slice) is
    stored again as the same bytes, and a copy of it reads back equal."""
    from nb2pipe.runtime import formats as fmts

    n = 5000
    frame = pd.DataFrame(
        {
            "f": np.arange(n, dtype="float64"),
            "s": pd.array([f"v{i % 7}" for i in range(n)], dtype="str"),
            "c": pd.Categorical([f"k{i % 3}" for i in range(n)]),
        }
    )
    old = fmts._BATCH_BYTES
    fmts._BATCH_BYTES = 1024  # many slices: chunked columns when read back
    try:
        store = LocalStore(tmp_path)
        ref = store.save(frame)
        back = store.load(ref)
        assert back["s"].array._pa_array.num_chunks > 1
        assert data_digest(back) == data_digest(frame)  # chunks are not the value
        again = store.save(back)
        assert again.hash == ref.hash
        pd.testing.assert_frame_equal(store.load(again), frame, check_exact=True)
        back["g"] = back["f"] * 2  # read back frames are ordinary, writable frames
        back.iloc[0, 0] = -1.0
        assert back.iloc[0, 0] == -1.0
    finally:
        fmts._BATCH_BYTES = old


_ARROW_DTYPES = st.sampled_from(
    ["int8", "int64", "uint16", "float32", "float64", "bool", "Int32", "boolean", "Float64",
     "str", "category", "datetime64[ns]", "datetime64[ms, UTC]", "timedelta64[ns]"]
)  # fmt: skip


@st.composite
def _frames(draw: Any) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    names = draw(st.lists(st.text("abcxyz_", min_size=1, max_size=4), max_size=4, unique=True))
    data: dict[str, Any] = {}
    for name in names:
        dtype = draw(_ARROW_DTYPES)
        raw = draw(st.lists(st.integers(-1000, 1000) | st.none(), min_size=n, max_size=n))
        if dtype in ("str", "category"):
            values: Any = [None if v is None else f"s{v}" for v in raw]
        elif dtype.startswith(("datetime", "timedelta")):
            values = [None if v is None else v * 10**9 for v in raw]
            values = pd.array(values, dtype="Int64").astype(dtype)
        elif dtype in ("bool", "boolean"):
            values = [None if v is None else v > 0 for v in raw]
            if dtype == "bool":
                values = [bool(v) for v in values]
        elif dtype in ("int8", "int64", "uint16"):
            values = [abs(v or 0) % 100 for v in raw]
        elif dtype == "Int32":
            values = raw
        else:
            values = [None if v is None else v / 7 for v in raw]
        data[name] = pd.Series(values, dtype=dtype)
    frame = pd.DataFrame(data) if data else pd.DataFrame({"z": np.zeros(n)})
    if draw(st.booleans()) and names:
        frame = frame.set_index(names[0], drop=True)
    return frame


@settings(max_examples=120, deadline=None)
@given(_frames())
def test_what_the_table_calls_arrow_reads_back_equal(frame: pd.DataFrame) -> None:
    fmt, data = formats.encode(frame)
    back = formats.decode(data, fmt)
    pd.testing.assert_frame_equal(back, frame, check_exact=True, check_index_type=True)
    assert data_digest(back) == data_digest(frame)
    if formats.arrow_ok(frame):
        assert fmt == "arrow"


def test_unpicklable_value_is_an_error(tmp_path: Any) -> None:
    import threading

    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises
        LocalStore(tmp_path).save(threading.Lock())


def test_functions_defined_in_a_step_are_stored_by_value(tmp_path: Any) -> None:
    def make_scaler(k: int) -> Any:
        def scale(x: int) -> int:
            return x * k

        return scale

    store = LocalStore(tmp_path)
    ref = store.save(make_scaler(3))
    assert ref.format == "cloudpickle"
    assert store.load(ref)(2) == 6


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_every_value_reads_back_identical(value: Any) -> None:
    fmt, data = formats.encode(value)
    back = formats.decode(data, fmt)
    assert repr(back) == repr(value)  # repr tells tuple/list, 1/1.0/True apart
