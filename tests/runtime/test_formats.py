"""A value is stored as Parquet, .npy or JSON only when it reads back equal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2pipe.runtime import formats
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
