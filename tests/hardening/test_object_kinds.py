"""Property: every kind of object real notebooks pass between steps is fingerprinted,
guarded, stored and read back, or refused in one clear line; nothing crashes (issues
14.0 and 19.3). Hypothesis draws the kind and its contents; each value is used the way a
later step would use it (read only) and the guard must not see a change. (A handle as a
step's output, refused with the step and the variable named: tests/runtime/test_guard.py.)"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nb2pipe.runtime import guard
from nb2pipe.runtime.fingerprint import Unhashable, fingerprint, stateless
from nb2pipe.runtime.store import LocalStore

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@functools.cache
def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@functools.cache
def _searches() -> dict[str, Any]:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = _iris()
    grid = GridSearchCV(SVC(), {"C": [0.5, 2.0]}, cv=3).fit(X, y)
    pipe = make_pipeline(StandardScaler(), SVC())
    rand = RandomizedSearchCV(pipe, {"svc__C": [0.5, 1.0, 2.0]}, n_iter=2, cv=3, random_state=0)
    return {"grid": grid, "random": rand.fit(X, y)}


def _use_estimator(v: Any) -> None:
    v.predict(_iris()[0][:5])
    v.score(*_iris())


def _use_figure(v: Any) -> None:
    fig = v if hasattr(v, "savefig") else v.figure
    with tempfile.TemporaryDirectory() as folder:
        fig.savefig(Path(folder) / "f.png")


KINDS = st.sampled_from(
    ["grid", "random", "masked", "figure", "axes", "colormap", "sparse", "lambda", "closure",
     "frame", "series", "nested", "generator", "file", "sqlite"]
)  # fmt: skip


def make(kind: str, draw: Any) -> tuple[str, Any, Callable[[Any], Any]]:
    """The value of a drawn kind (built in the test, not the strategy: some kinds touch
    global state, which hypothesis wants strategies to leave alone)."""
    numbers = draw(st.lists(st.integers(-50, 50), min_size=1, max_size=8))
    if kind in ("grid", "random"):
        return kind, _searches()[kind], _use_estimator
    if kind == "masked":
        mask = draw(st.lists(st.booleans(), min_size=len(numbers), max_size=len(numbers)))
        return kind, np.ma.masked_array(numbers, mask=mask), lambda v: (v.sum(), v.mean())
    if kind in ("figure", "axes"):
        fig, ax = plt.subplots()
        ax.plot(numbers)
        plt.close(fig)
        return kind, fig if kind == "figure" else ax, _use_figure
    if kind == "colormap":
        cmap = plt.get_cmap(draw(st.sampled_from(["viridis", "magma", "coolwarm"]))).copy()
        return kind, cmap, lambda v: v(np.linspace(0, 1, len(numbers)))
    if kind == "sparse":
        import scipy.sparse as sp

        n = draw(st.integers(2, 30))
        fmt = draw(st.sampled_from(["csr", "csc", "coo"]))
        m = sp.random(n, n, density=0.3, format=fmt, random_state=draw(st.integers(0, 99)))
        return kind, m, lambda v: (v @ np.ones(n), v.sum())
    if kind == "lambda":
        k = draw(st.integers())
        return kind, lambda x: x + k, lambda v: v(1)
    if kind == "closure":
        arr = np.array(numbers, dtype=float)

        def outer() -> Callable[[Any], Any]:
            def scale(x: Any) -> Any:
                return x * arr

            return scale

        return kind, outer(), lambda v: v(2.0)
    if kind in ("frame", "series"):
        frame = pd.DataFrame(
            {
                "v": [float(x) for x in numbers],
                "c": pd.Categorical([f"k{x % 3}" for x in numbers]),
            },
            index=pd.MultiIndex.from_arrays(
                [[x % 2 for x in numbers], list(range(len(numbers)))], names=["g", "i"]
            ),
        )
        value = frame if kind == "frame" else frame["c"]
        return kind, value, lambda v: (v.describe(), v.groupby(level="g", observed=True).size())
    if kind == "nested":
        return kind, {"a": numbers, "b": (np.array(numbers), {"c": None})}, lambda v: len(v)
    if kind == "generator":
        return kind, (x for x in numbers), lambda v: None
    if kind == "file":
        return kind, tempfile.TemporaryFile(), lambda v: None
    return kind, sqlite3.connect(":memory:"), lambda v: v.execute("select 1").fetchall()


def _same(kind: str, a: Any, b: Any) -> None:
    if kind == "frame":
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif kind == "series":
        pd.testing.assert_series_equal(a, b, check_exact=True)
    elif kind in ("figure", "axes", "colormap"):
        assert type(a) is type(b)
    else:
        assert fingerprint(a) == fingerprint(b)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(KINDS, st.data())
def test_every_kind_is_hashed_guarded_stored_or_refused(
    tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    kind, value, use = make(kind, data.draw)
    notes: list[str] = []
    try:
        first = fingerprint(value, notes)
    except Unhashable as exc:  # a reason in a few words, never a crash
        assert "\n" not in str(exc)
        return
    assert fingerprint(value) == first
    check = guard.before({"v": value}, ["v"], {})
    use(value)
    assert guard.after(check, {"v": value}, lambda var: pytest.fail("no stored copy"), None) == []
    store = LocalStore(tmp_path / "store")
    if stateless(value):
        assert notes  # the guard says what it could not compare
        with pytest.raises((TypeError, ValueError)):
            store.save(value)
        return
    back = store.load(store.save(value))
    _same(kind, value, back)
