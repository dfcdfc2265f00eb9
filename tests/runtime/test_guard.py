"""The mutation guard on what real notebooks pass between steps (issues 14.0, 19.3): no
false alarm on read-only use, no crash on any value, and a failure that names the call
that changed the input."""

from __future__ import annotations

from typing import Any

import pytest
from runtime_helpers import S

SK = (
    "import numpy as np\nfrom sklearn.datasets import load_iris\n"
    "from sklearn.model_selection import GridSearchCV, RandomizedSearchCV\n"
    "from sklearn.svm import SVC\nfrom sklearn.pipeline import make_pipeline\n"
    "from sklearn.preprocessing import StandardScaler\nfrom sklearn.decomposition import PCA\n"
    "from sklearn.linear_model import LogisticRegression"
)
MPL = "import numpy as np\nimport matplotlib.pyplot as plt"
MAKE = S("make", "items = [1, 2, 3]", outputs=("items",), cell=2)


def test_the_message_names_the_call_that_changed_the_input(make_pkg: Any) -> None:
    touch = S(
        "touch",
        "# cell 3\ncount = len(items)\n\n# cell 4\nhelper = 1\nitems.append(4)",
        inputs={"items": "make"},
        outputs=("count",),
    )
    r = make_pkg([MAKE, touch]).run()
    error = r.steps["touch"]["error"]
    assert error["kind"] == "mutation"
    assert "likely at cell 4, line 2 (items.append(4))" in error["message"]
    assert (error["cell"], error["line"]) == (4, 2)


def test_a_call_the_input_is_passed_to_is_named(make_pkg: Any) -> None:
    touch = S(
        "touch",
        "# cell 5\nn = len(items)\nrandom.Random(0).shuffle(items)",
        inputs={"items": "make"},
        outputs=("n",),
        imports="import random",
    )
    r = make_pkg([S("make", "items = list(range(50))", outputs=("items",)), touch]).run()
    assert "likely at cell 5, line 2 (random.Random(0).shuffle(items))" in r.error


def test_a_fitted_grid_search_is_read_by_a_later_step(make_pkg: Any) -> None:
    """issue 14: joblib.hash crashed on the masked arrays of cv_results_."""
    steps = [
        S(
            "search",
            "X, y = load_iris(return_X_y=True)\n"
            "grid = GridSearchCV(SVC(), {'C': [0.1, 1, 10], 'gamma': ['scale', 0.1]}, cv=3)"
            ".fit(X, y)\n"
            "rs = RandomizedSearchCV(make_pipeline(StandardScaler(), SVC()), "
            "{'svc__C': [0.1, 1]}, n_iter=2, cv=3, random_state=0).fit(X, y)",
            outputs=("grid", "rs", "X", "y"),
            imports=SK,
        ),
        S(
            "summary",
            "print(grid.best_params_)\nbest = grid.best_params_['C']\n"
            "score = float(rs.score(X, y))\nparams = list(grid.cv_results_['param_C'])",
            inputs={"grid": "search", "rs": "search", "X": "search", "y": "search"},
            outputs=("best", "score", "params"),
        ),
    ]
    for jobs in (1, 2):
        r = make_pkg(steps).run(jobs=jobs)
        assert r.ok, r.error
        assert r.steps["summary"]["notes"] == []
        assert r.load("summary", "params") == [0.1, 0.1, 1, 1, 10, 10]


def test_figures_axes_and_colormaps_from_an_earlier_step(make_pkg: Any) -> None:
    """issue 14/19: an Axes input recursed; a colormap fills its lookup table on first use;
    savefig on a figure from an earlier step changes its canvas. None is a change."""
    steps = [
        S(
            "plot",
            "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\n"
            "cmap = plt.get_cmap('viridis').copy()\ndata = np.arange(12.0).reshape(3, 4)",
            outputs=("fig", "ax", "cmap", "data"),
            imports=MPL,
        ),
        S(
            "use",
            "fig.savefig('again.png')\nax.set_title('seen')\n"
            "for ax in fig.axes:\n    n = len(ax.lines)\n"
            "fig2, ax2 = plt.subplots()\nax2.imshow(data, cmap=cmap)\nrgba = cmap(0.5)",
            inputs={"fig": "plot", "ax": "plot", "cmap": "plot", "data": "plot"},
            outputs=("n", "rgba"),
            imports=MPL,
        ),
    ]
    pkg = make_pkg(steps)
    for jobs in (1, 2):
        r = pkg.run(jobs=jobs, force=True)
        assert r.ok, r.error
        assert r.load("use", "n") == 1 and len(r.load("use", "rgba")) == 4
        assert (pkg.workdir / "again.png").stat().st_size > 0


def test_a_fitted_pca_reused_in_a_pipeline_is_not_a_change(make_pkg: Any) -> None:
    steps = [
        S(
            "fit",
            "X, y = load_iris(return_X_y=True)\nscaler = StandardScaler().fit(X)\n"
            "pca = PCA(2).fit(scaler.transform(X))",
            outputs=("X", "y", "scaler", "pca"),
            imports=SK,
        ),
        S(
            "model",
            "clf = LogisticRegression().fit(pca.transform(scaler.transform(X)), y)\n"
            "pipe = make_pipeline(scaler, pca, clf)\nacc = float(pipe.score(X, y))",
            inputs={"X": "fit", "y": "fit", "scaler": "fit", "pca": "fit"},
            outputs=("pipe", "acc"),
            imports=SK,
        ),
    ]
    r = make_pkg(steps).run()
    assert r.ok, r.error
    assert r.load("model", "acc") > 0.8


def test_refitting_an_input_is_a_change(make_pkg: Any) -> None:
    steps = [
        S(
            "fit",
            "X, y = load_iris(return_X_y=True)\npca = PCA(2).fit(X[:50])",
            outputs=("X", "y", "pca"),
            imports=SK,
        ),
        S(
            "refit",
            "# cell 9\npipe = make_pipeline(pca, LogisticRegression())\npipe.fit(X, y)",
            inputs={"X": "fit", "y": "fit", "pca": "fit"},
            outputs=("pipe",),
            imports=SK,
        ),
    ]
    r = make_pkg(steps).run()
    error = r.steps["refit"]["error"]
    assert error["kind"] == "mutation" and "changed its input 'pca'" in error["message"]
    assert (
        "likely at cell 9, line 1 (pipe = make_pipeline(pca, LogisticRegression()))"
        in (error["message"])
    )


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("g = (i for i in range(3))", "generator"),
        ("g = open('data.txt', 'w')", "TextIOWrapper"),
        ("import sqlite3\ng = sqlite3.connect(':memory:')", "Connection"),
    ],
)
def test_handles_cannot_be_outputs(make_pkg: Any, body: str, kind: str) -> None:
    r = make_pkg([S("make", body, outputs=("g",)), S("use", "n = 1", inputs={"g": "make"},
                  outputs=("n",))]).run()  # fmt: skip
    error = r.steps["make"]["error"]
    assert error["kind"] == "outputs" and "\n" not in error["message"]
    assert error["message"].startswith("step 'make': output 'g' cannot be stored:")
    assert f"({kind} objects, like generators, open files and connections" in error["message"]
    assert r.steps["use"]["status"] == "skipped"
