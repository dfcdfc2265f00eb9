"""Value fingerprints: a change of what a value holds changes them; what is not the value
(matplotlib internals, lazily filled caches, the memory layout of equal frames read back)
does not, and nothing crashes."""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb2pipe.runtime.fingerprint import Unhashable, data_digest, fingerprint


def changes(value: Any, change: Any) -> bool:
    before = fingerprint(value)
    change(value)
    return fingerprint(value) != before


def test_arrays() -> None:
    a = np.arange(12.0).reshape(3, 4)
    assert fingerprint(a) == fingerprint(a.copy()) == data_digest(a)
    assert fingerprint(a) != fingerprint(a.astype("float32"))
    assert fingerprint(a) != fingerprint(a.reshape(4, 3))
    assert changes(a, lambda v: v.__setitem__((2, 3), -1.0))
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    assert changes(f, lambda v: v.__setitem__((1, 2), 0.5))
    strided = np.arange(20.0)[::2]
    assert fingerprint(strided) == fingerprint(strided.copy())
    masked = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    assert changes(masked, lambda v: v.__setitem__(1, 5))  # unmasks it
    objs = np.array([{"a": 1}, [2]], dtype=object)
    assert changes(objs, lambda v: v[0].update(a=2))


def test_frames() -> None:
    df = pd.DataFrame(
        {
            "f": [0.5, np.nan, 2.0],
            "c": pd.Categorical(["a", "b", "a"]),
            "s": pd.array(["x", None, "z"], dtype="str"),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "t": pd.date_range("2024", periods=3, tz="UTC"),
            "o": [{"k": 1}, None, [1]],
        },
        index=pd.MultiIndex.from_tuples([(1, "a"), (1, "b"), (2, "a")]),
    )
    assert fingerprint(df) == fingerprint(df.copy())
    assert changes(df.copy(), lambda d: d.__setitem__("g", 1))
    assert changes(df.copy(), lambda d: d.iloc.__setitem__((0, 0), 9.0))
    assert changes(df.copy(), lambda d: d.__setitem__("c", d["c"].cat.add_categories("z")))
    assert changes(df.copy(), lambda d: setattr(d, "columns", [*"Fcsito"]))
    assert changes(df.copy(), lambda d: d.iloc[0, 5].update(k=2))  # inside an object cell
    assert changes(df.copy(), lambda d: d.attrs.update(unit="kg"))
    s = df["f"]
    assert changes(s.copy(), lambda v: v.iloc.__setitem__(1, 0.0))
    assert fingerprint(df.index) == fingerprint(df.index.copy())


def test_estimators_compare_parameters_and_fitted_attributes() -> None:
    from sklearn.datasets import load_iris
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    pca = PCA(2).fit(X)
    before = fingerprint(pca)
    pca.transform(X)
    pca._lazily_filled_cache = {"anything": 1}  # private attributes are not compared
    assert fingerprint(pca) == before
    assert changes(pca, lambda p: p.set_params(n_components=3))
    model = LogisticRegression(max_iter=300).fit(X, y)
    assert changes(model, lambda m: m.fit(X[:60], y[:60]))


def test_matplotlib_objects_are_not_compared() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    cmap = plt.get_cmap("viridis").copy()
    value = {"fig": fig, "ax": ax, "cmap": cmap, "n": 1}
    before = fingerprint(value)
    cmap(0.3)  # fills its lookup table
    ax.plot([1, 2])
    fig.canvas.draw()
    assert fingerprint(value) == before
    value["n"] = 2
    assert fingerprint(value) != before
    plt.close(fig)


class Lazy:
    def __init__(self, data: list[int]) -> None:
        self.data = data

    @functools.cached_property
    def total(self) -> int:
        return sum(self.data)


def test_objects_functions_and_caches() -> None:
    lazy = Lazy([1, 2])
    before = fingerprint(lazy)
    assert lazy.total == 3 and fingerprint(lazy) == before  # a cached property is a cache
    assert changes(lazy, lambda v: v.data.append(3))
    k = np.arange(3)

    def outer() -> Any:
        return lambda v: v + k

    f = outer()
    assert fingerprint(f) == fingerprint(f)
    assert changes(f, lambda fn: fn.__closure__[0].cell_contents.__setitem__(0, 9))
    assert fingerprint(lambda x: x + 1) != fingerprint(lambda x: x + 2)
    shared = [1, 2]
    assert fingerprint([shared, shared]) == fingerprint([shared, list(shared)])  # no identity
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    with pytest.raises(Unhashable, match="cycle"):
        fingerprint(cyclic)


def test_what_has_no_value_is_noted_never_a_crash() -> None:
    notes: list[str] = []
    gen = (i for i in range(3))
    digest = fingerprint({"gen": gen, "lock": threading.Lock(), "n": 1}, notes)
    assert len(digest) == 32
    assert any("generator" in n for n in notes) and any("lock" in n for n in notes)
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(Unhashable, match="nested too deeply"):
        fingerprint(deep)


def test_sparse_matrices() -> None:
    import scipy.sparse as sp

    m = sp.random(20, 20, density=0.2, format="csr", random_state=0)
    assert fingerprint(m) == fingerprint(m.copy())
    before = fingerprint(m)
    m.has_canonical_format  # noqa: B018 - computes and caches a flag
    m.sort_indices()
    assert fingerprint(m) == before
    assert changes(m, lambda v: v.data.__setitem__(0, 123.0))


def test_memory_layout_is_not_the_value() -> None:
    """Equal values in other memory layouts have one digest (a frame built in a step and
    the same frame read back in a worker must key the cache alike), while a change
    anywhere, also in the last band of a reordered block, is still seen."""
    rng = np.random.default_rng(0)
    arr = rng.normal(size=(5000, 6))
    fortran = pd.DataFrame(arr, columns=list("abcdef"), copy=False)  # block in F order
    assert not fortran._mgr.blocks[0].values.flags.c_contiguous
    split = pd.DataFrame({"a": arr[:, 0]})  # six one-column blocks, C order
    for i, name in enumerate("bcdef", start=1):
        split[name] = arr[:, i]
    assert len(split._mgr.blocks) == 6
    consolidated = split.copy()
    consolidated._consolidate_inplace()
    digest = data_digest(fortran)
    assert data_digest(split) == data_digest(consolidated) == digest
    before = data_digest(split)
    split._consolidate_inplace()  # the guard must not see this as a change of the input
    assert data_digest(split) == before
    changed = pd.DataFrame(np.ascontiguousarray(arr), columns=list("abcdef"), copy=False)
    changed.iloc[-1, 4] = 0.25
    assert data_digest(changed) != digest
    assert data_digest(fortran[list("bacdef")]) != digest  # column order is the value
    assert data_digest(np.asfortranarray(arr)) == data_digest(arr)
    assert data_digest(arr[::-1]) == data_digest(arr[::-1].copy())
    twisted = np.asfortranarray(arr)
    twisted[4999, 5] = 1.5
    assert data_digest(twisted) != data_digest(arr)


def test_arrow_and_masked_columns_by_value() -> None:
    import pyarrow as pa

    values = [None if i % 5 == 0 else f"v{i}" for i in range(300)]
    whole = pd.Series(values, dtype="str")
    parts = [pa.array(values[:7], pa.large_string()), pa.array(values[7:], pa.large_string())]
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(parts), dtype=whole.dtype))
    assert chunked.array._pa_array.num_chunks == 2
    sliced = pd.Series(values[:1] + values, dtype="str").iloc[1:].reset_index(drop=True)
    assert sliced.array._pa_array.chunks[0].offset == 1
    assert data_digest(whole) == data_digest(chunked) == data_digest(sliced)
    assert data_digest(pd.Series(["ab", "c"], dtype="str")) != data_digest(
        pd.Series(["a", "bc"], dtype="str")
    )
    assert data_digest(pd.Series(["a", None], dtype="str")) != data_digest(
        pd.Series([None, "a"], dtype="str")
    )
    flags = [True, None, False] * 5
    bools = pa.chunked_array([pa.array(flags[:4]), pa.array(flags[4:])])
    assert data_digest(pd.Series(pd.arrays.ArrowExtensionArray(bools))) == data_digest(
        pd.Series(flags, dtype="bool[pyarrow]")
    )
    assert data_digest(pd.Series(flags, dtype="bool[pyarrow]")) != data_digest(
        pd.Series([not f if f is not None else None for f in flags], dtype="bool[pyarrow]")
    )
    valid = pa.py_buffer(bytes([0b101]))  # the middle value is null
    garbage = [  # equal arrays, built with different bytes under the null
        pa.Array.from_buffers(pa.int64(), 3, [valid, pa.py_buffer(np.array([1, u, 3]).tobytes())])
        for u in (0, 7, 99)
    ]
    assert len({data_digest(pd.Series(pd.arrays.ArrowExtensionArray(a))) for a in garbage}) == 1
    assert data_digest(pd.Series(pd.arrays.ArrowExtensionArray(garbage[0]))) != data_digest(
        pd.Series([1, None, 4], dtype="int64[pyarrow]")
    )
    stamps = pa.Array.from_buffers(
        pa.timestamp("ns"), 3, [valid, pa.py_buffer(np.array([5, 123, 6], np.int64).tobytes())]
    )
    assert data_digest(pd.Series(pd.arrays.ArrowExtensionArray(stamps))) == data_digest(
        pd.Series(pd.arrays.ArrowExtensionArray(pa.array([5, None, 6], pa.timestamp("ns"))))
    )
    ints = pd.array([1, 2, 3], dtype="Int64")
    other = ints.copy()
    ints[1], other[1] = 7, 9
    ints[1] = other[1] = None  # what was under the missing value differs
    assert data_digest(pd.Series(ints)) == data_digest(pd.Series(other))
    assert data_digest(pd.Series(ints)) != data_digest(pd.Series([1, 0, 3], dtype="Int64"))
    half = np.array([np.nan, 1.0], dtype="float16")
    other_nan = half.copy()
    other_nan.view(np.uint16)[0] = 0x7FFF
    assert data_digest(half) == data_digest(other_nan)
