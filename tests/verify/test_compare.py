"""How verify compares a notebook value with a pipeline value (no kernel needed)."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from nb2pipe.verify import Comparer, Tolerance


def check(a, b, tol=None, data=()):
    return Comparer(tol, data).compare(a, b)


# --- numbers ------------------------------------------------------------------------------


def test_floats_within_default_tolerance() -> None:
    assert check(0.1 + 0.2, 0.3).ok
    assert check(1e9, 1e9 * (1 + 1e-10)).ok
    out = check(1.0, 1.0 + 1e-6)
    assert not out.ok and "1.0 != 1.000001" in out.detail and out.how == "float"


def test_tolerance_options() -> None:
    assert check(1.0, 1.001, Tolerance(rtol=1e-2)).ok
    assert check(0.0, 1e-6, Tolerance(atol=1e-5)).ok
    assert not check(0.0, 1e-6).ok


def test_nan_inf_int_bool() -> None:
    assert check(float("nan"), float("nan")).ok
    assert not check(float("inf"), 1e308).ok
    assert check(3, 3).ok and not check(3, 4).ok
    assert not check(True, False).ok
    assert check(np.float64(1.5), np.float64(1.5)).ok


def test_type_differences_are_mismatches() -> None:
    out = check(1, 1.0)
    assert not out.ok and "type int in the notebook, float in the pipeline" in out.detail
    assert not check([1, 2], (1, 2)).ok
    assert not check(np.float64(1.0), 1.0).ok
    assert not check(None, 0).ok


def test_a_notebook_class_defined_inside_a_step_is_the_same_class() -> None:
    """The notebook defines Ratio at top level (``__main__``); the pipeline keeps it inside
    the step's function (it reads the step's variables): ``features.<locals>.Ratio``."""

    def make(module: str, qualname: str) -> object:
        cls = type("Ratio", (), {"__eq__": lambda a, b: True, "__hash__": object.__hash__})
        cls.__module__, cls.__qualname__ = module, qualname
        return cls()

    nb = make("__main__", "Ratio")
    assert check(nb, make("pkg.steps.features", "features.<locals>.Ratio")).ok
    assert not check(nb, make("pkg.steps.features", "features.<locals>.Other")).ok
    assert not check(make("a", "x.<locals>.Ratio"), make("b", "Ratio")).ok  # both libraries


# --- arrays and pandas --------------------------------------------------------------------


def test_arrays() -> None:
    a = np.linspace(0, 1, 7)
    assert check(a, a + 1e-13).ok
    b = a.copy()
    b[3] += 1e-3
    out = check(a, b)
    assert not out.ok and out.detail.startswith("[3]: ") and "1 of 7 elements" in out.detail
    assert "dtype float64 != float32" in check(a, a.astype(np.float32)).detail
    assert "shape (7,) != (1, 7)" in check(a, a.reshape(1, 7)).detail
    assert check(np.array([np.nan, 1.0]), np.array([np.nan, 1.0])).ok
    assert not check(np.arange(4), np.array([0, 1, 2, 4])).ok
    assert check(np.array(["a", "b"]), np.array(["a", "b"])).ok
    obj = np.array([{"k": 1}, [1, 2]], dtype=object)
    obj2 = np.array([{"k": 2}, [1, 2]], dtype=object)
    assert "[0]['k']" in check(obj, obj2).detail


def test_dataframes() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}, index=[10, 20])
    assert check(df, df.copy()).ok
    other = df.copy()
    other.loc[20, "a"] = 2.5
    out = check(df, other)
    assert not out.ok and out.how == "DataFrame" and 'column name="a"' in out.detail
    assert not check(df, df.astype({"a": "float32"})).ok  # dtype
    assert not check(df, df.reset_index(drop=True)).ok  # index
    assert not check(df, df.rename(columns={"b": "c"})).ok  # columns
    assert not check(df, df[["b", "a"]]).ok  # column order
    close = df.copy()
    close["a"] = close["a"] * (1 + 1e-12)
    assert check(df, close).ok


def test_series_and_index() -> None:
    s = pd.Series([1, 2, 3], name="n")
    assert check(s, s.copy()).ok
    assert not check(s, s.rename("m")).ok
    assert not check(pd.Index([1, 2]), pd.Index([1, 3])).ok


# --- containers ---------------------------------------------------------------------------


def test_nested_containers_report_the_path() -> None:
    a = {"forest": {"accuracy": 0.93, "f1": [0.9, 0.8]}, "n": 3}
    b = {"forest": {"accuracy": 0.93, "f1": [0.9, 0.7]}, "n": 3}
    out = check(a, b)
    assert not out.ok and out.detail.startswith("['forest']['f1'][1]: 0.8 != 0.7")
    assert "keys only in the notebook: ['n']" in check(a, {"forest": a["forest"]}).detail
    assert check({1, 2}, {2, 1}).ok and not check({1, 2}, {1, 3}).ok
    assert "length 2 != 3" in check([1, 2], [1, 2, 3]).detail


def test_cycles_terminate() -> None:
    a: list = [1]
    a.append(a)
    b: list = [1]
    b.append(b)
    assert check(a, b).ok


def test_strings_show_where_they_differ() -> None:
    out = check("abcdef" * 20, "abcdef" * 10 + "abcxef" + "abcdef" * 9)
    assert not out.ok and "differ at position 63" in out.detail


# --- estimators ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def test_estimators_compared_by_predictions_on_the_steps_data(iris) -> None:
    X, y = iris
    a = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    b = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    out = check(a, b, data=[("X", X)])
    assert out.ok
    assert out.how == "estimator: params + predictions on X, a synthetic sample + fitted attributes"
    c = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X[::2], y[::2])
    out = check(a, c, data=[("X", X)])
    assert not out.ok and out.detail.startswith(".predict(X)[")


def test_a_different_forest_is_caught_on_held_out_rows(iris) -> None:
    """Two forests from different random streams predict their training rows alike
    (issue 19.5: verify said ok); on the synthetic sample they differ."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris
    a = RandomForestClassifier(5, random_state=0).fit(X, y)
    b = RandomForestClassifier(5, random_state=1).fit(X, y).set_params(random_state=0)
    assert (a.predict(X) == b.predict(X)).all()  # what verify used to compare
    out = check(a, b, data=[("X", X), ("y", y)])
    assert not out.ok and out.detail.startswith(".predict(a synthetic sample)[")
    same = RandomForestClassifier(5, random_state=0).fit(X, y)
    assert check(a, same, data=[("X", X)]).ok


def test_the_synthetic_sample_is_fixed_and_follows_the_data(iris) -> None:
    from nb2pipe.verify.estimators import synthetic

    X, y = iris
    frame = X.assign(kind=pd.Categorical(np.where(y > 0, "b", "a")), n=np.arange(len(X)))
    model = Ridge().fit(X, y)
    one, two = synthetic(model, frame), synthetic(model, frame)
    pd.testing.assert_frame_equal(one, two)
    assert list(one.dtypes) == list(frame.dtypes) and len(one) == 32
    for col in X.columns:
        assert X[col].min() <= one[col].min() and one[col].max() <= X[col].max()
    assert set(one["kind"]) <= {"a", "b"} and one["n"].between(0, len(X) - 1).all()
    plain = synthetic(model, None)  # no data at hand: numbers under the features' names
    assert list(plain.columns) == list(X.columns) and plain.shape == (32, 4)


def test_estimator_params_differ(iris) -> None:
    X, y = iris
    a = DecisionTreeClassifier(max_depth=2).fit(X, y)
    b = DecisionTreeClassifier(max_depth=3).fit(X, y)
    out = check(a, b, data=[("X", X)])
    assert not out.ok and out.detail == ".get_params()['max_depth']: 2 != 3"


def test_estimator_without_data_predicts_on_a_synthetic_sample(iris) -> None:
    X, y = iris
    a = Ridge().fit(X, y)
    b = Ridge().fit(X, y)
    out = check(a, b)
    assert out.ok
    assert out.how == "estimator: params + predictions on a synthetic sample + fitted attributes"
    c = Ridge().fit(X[::2], y[::2])
    out = check(a, c)
    assert not out.ok and out.detail.startswith(".predict(a synthetic sample)[")


def test_estimator_that_cannot_predict_uses_fitted_attributes() -> None:
    from sklearn.preprocessing import LabelEncoder

    a, b = LabelEncoder().fit(["x", "y"]), LabelEncoder().fit(["x", "y"])
    out = check(a, b)
    assert out.ok and out.how == "estimator: params + fitted attributes"
    out = check(a, LabelEncoder().fit(["x", "z"]))
    assert not out.ok and out.detail.startswith(".classes_")


def test_data_must_match_the_fitted_features(iris) -> None:
    X, y = iris
    a = Ridge().fit(X, y)
    wrong = [("X_small", X.iloc[:, :2]), ("renamed", X.set_axis(list("abcd"), axis=1))]
    held_out = "estimator: params + predictions on a synthetic sample + fitted attributes"
    assert check(a, a, data=wrong).how == held_out
    wider = [("frame", X.assign(target=y))]  # the training frame with its label column
    assert "predictions on frame[features], a synthetic" in check(a, a, data=wider).how
    arr = Ridge().fit(X.to_numpy(), y)
    assert "predictions on X, a synthetic sample" in check(arr, arr, data=[("X", X)]).how


def test_sklearn_pipeline_fitted_or_not(iris) -> None:
    X, y = iris
    fitted = make_pipeline(StandardScaler(), Ridge()).fit(X, y)
    fresh = make_pipeline(StandardScaler(), Ridge())
    assert "fitted in the notebook, not fitted in the pipeline" in check(fitted, fresh).detail
    assert check(fresh, make_pipeline(StandardScaler(), Ridge())).ok
    again = make_pipeline(StandardScaler(), Ridge()).fit(X[:100], y[:100])
    assert not check(fitted, again).ok  # no data: nested fitted attributes differ
    assert not check(fitted, again, data=[("X", X)]).ok


# --- notebook classes, functions, other objects -------------------------------------------


def _class_in(module: str):
    namespace: dict = {}
    exec(
        "class Point:\n"
        "    def __init__(self, x, tags):\n"
        "        self.x = x\n"
        "        self.tags = tags\n",
        namespace,
    )
    cls = namespace["Point"]
    cls.__module__ = module
    return cls


def test_notebook_class_matches_the_step_modules_class() -> None:
    nb_cls, pl_cls = _class_in("__main__"), _class_in("pkg.steps.define")
    assert check(nb_cls(1.0, ["a"]), pl_cls(1.0, ["a"])).ok
    out = check(nb_cls(1.0, ["a"]), pl_cls(1.0, ["b"]))
    assert not out.ok and out.detail.startswith("['tags'][0]")
    other = _class_in("elsewhere")
    assert not check(_class_in("pkg.a")(1, []), other(1, [])).ok


def test_functions_and_closures() -> None:
    def make(k):
        def scale(v):
            return v * k

        return scale

    assert check(make(2), make(2)).ok
    out = check(make(2), make(3))
    assert not out.ok and "<closure k>" in out.detail

    def scale(v):
        return v + 1

    assert "the code of function" in check(make(2), _renamed(scale, make(2))).detail


def test_a_callable_object_bound_as_a_method() -> None:
    """scipy.stats' discrete distributions bind np.vectorize objects as methods
    (`randint(1, 200).dist._ppfvec`), as in Hands-On ML's randomized search: the comparer
    crashed (AttributeError: 'vectorize' object has no attribute '__qualname__')."""
    import pickle

    from scipy.stats import randint

    dist = randint(1, 200)
    assert check(dist, pickle.loads(pickle.dumps(dist))).ok
    assert not check(dist, randint(1, 300)).ok

    def double(_self, v):
        return 2 * v

    def triple(_self, v):
        return 3 * v

    owner = types.SimpleNamespace()
    bound = types.MethodType(np.vectorize(double), owner)
    assert check(bound, types.MethodType(np.vectorize(double), owner)).ok
    out = check(bound, types.MethodType(np.vectorize(_renamed(triple, double)), owner))
    assert not out.ok and out.detail.startswith(".__func__")


def _renamed(fn, like):
    fn.__qualname__ = like.__qualname__
    return fn


def test_objects_with_eq_and_plain_objects() -> None:
    assert check(types.SimpleNamespace(a=1), types.SimpleNamespace(a=1)).ok
    assert not check(types.SimpleNamespace(a=1), types.SimpleNamespace(a=2)).ok
    import datetime

    assert check(datetime.date(2020, 1, 1), datetime.date(2020, 1, 1)).ok
    assert not check(datetime.date(2020, 1, 1), datetime.date(2020, 1, 2)).ok
    rs1, rs2 = np.random.RandomState(0), np.random.RandomState(0)
    assert check(rs1, rs2).ok
    rs2.rand()
    assert not check(rs1, rs2).ok


def test_search_cv_timings_are_not_compared(iris) -> None:
    from sklearn.model_selection import GridSearchCV

    X, y = iris
    a = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2]}, cv=2)
    b = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2]}, cv=2)
    a.fit(X, y)
    b.fit(X, y)
    b.cv_results_["mean_fit_time"] = b.cv_results_["mean_fit_time"] + 1.0
    assert check(a, b).ok
    b.cv_results_["mean_test_score"] = b.cv_results_["mean_test_score"] + 0.1
    out = check(a, b)
    assert not out.ok and out.detail.startswith(".cv_results_['mean_test_score']")


def test_extension_objects_are_compared_by_their_state_not_their_bytes(iris) -> None:
    X, y = iris
    a = DecisionTreeClassifier(random_state=0).fit(X, y).tree_
    b = DecisionTreeClassifier(random_state=0).fit(X, y).tree_
    out = check(a, b)
    assert out.ok and out.how == "sklearn.tree._tree.Tree"
    c = DecisionTreeClassifier(random_state=0).fit(X[::2], y[::2]).tree_
    assert not check(a, c).ok


# --- figures ------------------------------------------------------------------------------


def _bars(heights, title="t"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    axes[0].bar(range(len(heights)), heights)
    axes[0].set_title(title)
    axes[1].scatter([1, 2], [3, 4])
    plt.close(fig)
    return fig, axes


def test_figures_are_compared_by_what_they_show() -> None:
    fig, axes = _bars([1, 2])
    same, same_axes = _bars([1, 2])
    out = check(fig, same)  # their callbacks, canvases and ids differ
    assert out.ok and out.how == "figure: what it shows"
    assert check(axes, same_axes).ok  # an array of Axes, element by element
    taller, _ = _bars([1, 3])
    out = check(fig, taller)
    assert not out.ok and out.detail.startswith("['axes'][0]['patches'][1]['vertices']")
    more, _ = _bars([1, 2, 2])
    assert "['axes'][0]['patches']: length 2 != 3" in check(fig, more).detail
    assert "['axes'][0]['title']" in check(fig, _bars([1, 2], "other")[0]).detail


def test_a_figure_that_cannot_be_read_is_skipped_saying_so() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.lines import Line2D

    out = check(Line2D([object()], [object()]), Line2D([object()], [object()]))
    assert out.ok and out.skipped and out.detail.startswith("the figure not compared: TypeError")


# --- the notebook's own randomness ----------------------------------------------------------


def test_a_mismatch_after_unseeded_randomness_is_the_notebooks_own_even_if_it_repeats() -> None:
    """Two runs of an unseeded notebook can agree by chance (a 3-tree forest's prediction on
    a training row has few outcomes): the mismatch is still not the pipeline's fault. With
    no unseeded cell before the step, agreeing runs keep it a mismatch."""
    from nb2pipe.verify.rerun import reconcile
    from nb2pipe.verify.result import Row

    rows = [Row("s2", "v2", "mismatch", "float", "20.5 != 28.5")]
    same = lambda step, var: 20.5  # noqa: E731 - both notebook runs gave 20.5
    cells = {"s2": (5, 6)}
    (row,) = reconcile(rows, same, same, Tolerance(), cells, lambda: [3])
    assert row.verdict == "nondeterministic" and "unseeded randomness in cell 3" in row.detail
    (row,) = reconcile(rows, same, same, Tolerance(), cells, lambda: [])
    assert row.verdict == "mismatch"
    (row,) = reconcile(rows, same, lambda s, v: 9.0, Tolerance(), cells, lambda: [])
    assert row.verdict == "nondeterministic" and "another value" in row.detail
