"""The chain of steps drawing from the seeded global random streams (nb2pipe/compiler/randomness.py):
which steps draw (implicit draws included), which are checked instead, where seeds run."""

from __future__ import annotations

import pytest

from nb2pipe.errors import AnalysisError, StrictError

RS = "__random_state__"
IMPORTS = (
    "imports",
    "import random\nimport numpy as np\nimport pandas as pd\n"
    "from sklearn.datasets import load_iris\nfrom sklearn.ensemble import RandomForestClassifier\n"
    "from sklearn.model_selection import KFold, cross_val_score, train_test_split\n"
    "from sklearn.metrics import accuracy_score\nnp.random.seed(0)",
)
DATA = ("step:data", "X, y = load_iris(return_X_y=True)")


def chain(pipe):
    return [s.name for s in pipe.steps if s.random]


def guarded(pipe):
    return [s.name for s in pipe.steps if s.random_guard]


@pytest.mark.parametrize(
    ("code", "draws"),
    [
        ("a = train_test_split(X, y)", True),
        ("a = train_test_split(X, y, random_state=1)", False),
        ("a = train_test_split(X, y, random_state=None)", True),
        ("a = RandomForestClassifier(3).fit(X, y)", True),
        ("a = RandomForestClassifier(3, random_state=0).fit(X, y)", False),
        ("a = list(KFold(3).split(X))", False),
        ("a = list(KFold(3, shuffle=True).split(X))", True),
        ("a = cross_val_score(RandomForestClassifier(3), X, y)", True),
        ("a = pd.DataFrame(X).sample(5)", True),
        ("a = pd.DataFrame(X).sample(5, random_state=2)", False),
        ("a = np.random.rand(3)", True),
        ("a = np.random.default_rng(3).random(3)", False),
        ("a = random.random()", False),  # only numpy's stream is seeded here
        ("a = X.mean()", False),
        ("a = accuracy_score(y, y)", False),
        ("a = sorted(y)[:3]", False),
        ("import scipy.stats as st\na = st.norm.rvs(size=3)", True),  # unknown: assumed to
        ("f = len\na = f(y)", True),  # a function received as data: may draw
        ("from sklearn.svm import SVR\na = SVR().fit(X, y)", True),  # libsvm seeds from it
    ],
)
def test_which_calls_draw(load_cells, code, draws):
    pipe = load_cells([IMPORTS, DATA, ("step:a", code), ("step:b", "b = np.random.rand()")])
    assert ("a" in chain(pipe)) is draws, code
    assert pipe.step("b").inputs == {RS: "a" if draws else "data"} or not draws
    if not draws:
        assert pipe.step("a").random_guard == ("numpy",)
        assert RS not in pipe.step("a").inputs


def test_every_sklearn_estimator_whose_fit_draws_is_known():
    """Fit every scikit-learn estimator that builds with its defaults on a small table and
    watch numpy's global stream: one that moves it must be in SKLEARN_RANDOM, or the
    pipeline replays a stream the notebook had advanced (found on Hands-On ML chapter 2:
    SVR's fit draws a libsvm seed though SVR has no random_state)."""
    import warnings

    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.utils import all_estimators

    from nb2pipe.compiler.rules import SKLEARN_RANDOM

    X, y = make_classification(60, 6, random_state=0)
    X = np.abs(X)  # for the estimators that want non-negative input
    np.random.seed(0)
    seeded = np.random.get_state()
    drawing, fitted = [], 0
    for name, cls in all_estimators():
        np.random.set_state(seeded)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated classes, convergence
            try:
                est = cls()
            except TypeError:  # meta-estimators need an estimator
                continue
            try:
                est.fit(X, y)
            except Exception:  # noqa: BLE001 - unsupervised, or needs other input
                try:
                    est.fit(X)
                except Exception:  # noqa: BLE001 - not fittable here: not judged
                    continue
        fitted += 1
        after = np.random.get_state()
        if after[2] != seeded[2] or not np.array_equal(after[1], seeded[1]):
            drawing.append(name)
    assert fitted > 150  # the check saw the estimators
    assert {"SVR", "RandomForestClassifier", "KMeans"} <= set(drawing)
    assert sorted(set(drawing) - SKLEARN_RANDOM) == []


def test_an_estimator_built_in_one_step_draws_where_it_is_fitted(load_cells):
    cells = [
        IMPORTS,
        DATA,
        ("step:build", "model = RandomForestClassifier(5)\nmodels = {'rf': model}"),
        ("step:fit", "models['rf'].fit(X, y)"),
        ("step:score", "score = models['rf'].score(X, y)\npred = models['rf'].predict(X)"),
        ("step:more", "again = models['rf'].fit(X[:50], y[:50]).predict(X)"),
    ]
    pipe = load_cells(cells)
    assert chain(pipe) == ["fit", "more"]
    assert guarded(pipe) == ["data", "build", "score"]
    assert pipe.step("more").inputs[RS] == "fit"
    assert RS in pipe.step("fit").outputs and RS not in pipe.step("more").outputs


def test_notebook_functions_that_draw_make_their_callers_draw(load_cells):
    cells = [
        IMPORTS,
        ("functions", "def noisy(v):\n    return v + jitter(v)\n\n\ndef jitter(v):\n"
         "    return np.random.normal(size=len(v))\n\n\ndef clean(v):\n    return v * 2"),
        DATA,
        ("step:a", "a = clean(X)"),
        ("step:b", "b = noisy(X)"),
    ]  # fmt: skip
    pipe = load_cells(cells)
    assert chain(pipe) == ["b"] and guarded(pipe) == ["data", "a"]


def test_an_independent_branch_stays_parallel(load_cells):
    cells = [
        IMPORTS,
        DATA,
        ("step:split", "X_tr, X_te, y_tr, y_te = train_test_split(X, y)"),
        ("step:report", "summary = pd.DataFrame(X).describe()"),
        ("step:train", "model = RandomForestClassifier(4).fit(X_tr, y_tr)"),
    ]
    pipe = load_cells(cells)
    assert chain(pipe) == ["split", "train"]
    assert pipe.step("report").inputs == {"X": "data"}  # not ordered after the chain
    assert pipe.step("train").inputs[RS] == "split"
    assert [f.source for f in pipe.step("split").seeds] == ["np.random.seed(0)"]
    assert all(not s.seeds for s in pipe.steps if s.name != "split")


def test_nothing_seeded_nothing_carried_and_a_note(load_cells):
    cells = [
        ("imports", "import numpy as np\nfrom sklearn.cluster import MiniBatchKMeans"),
        ("step:a", "x = np.random.rand(20, 2)"),
        ("step:b", "km = MiniBatchKMeans(3, n_init=1).fit(x)"),
    ]
    pipe = load_cells(cells)
    assert chain(pipe) == [] and guarded(pipe) == []
    notes = [str(d) for d in pipe.diagnostics if d.code == "unseeded-random"]
    assert notes[0].startswith("note: cell 2, line 1: step 'a' draws from the global random")
    assert notes[1].startswith("note: cell 3, line 1: step 'b' draws")


def test_only_the_seeded_stream_chains(load_cells):
    cells = [
        ("imports", "import random\nimport numpy as np\nrandom.seed(1)"),
        ("step:a", "a = np.random.rand()"),  # numpy is not seeded: the notebook varies too
        ("step:b", "b = random.random()"),
        ("step:c", "c = random.choice([1, 2, 3])"),
    ]
    pipe = load_cells(cells)
    assert chain(pipe) == ["b", "c"]
    assert pipe.step("b").random == ("random",)
    assert guarded(pipe) == ["a"]


def test_a_seed_in_a_step_starts_the_chain_there(load_cells):
    cells = [
        ("imports", "import numpy as np"),
        ("step:early", "e = np.random.rand()"),  # before any seed: not carried
        ("step:seed", "np.random.seed(5)\ns = np.random.rand()"),
        ("step:late", "t = np.random.rand()"),
    ]
    pipe = load_cells(cells)
    assert chain(pipe) == ["seed", "late"] and guarded(pipe) == []
    assert pipe.step("late").inputs == {RS: "seed"}


def test_an_imports_cell_seed_below_a_step_applies_after_it(load_cells):
    cells = [
        ("imports", "import numpy as np"),
        ("step:a", "a = np.random.rand()"),
        ("imports", "np.random.seed(3)"),
        ("step:b", "b = np.random.rand()"),
    ]
    pipe = load_cells(cells)
    assert chain(pipe) == ["b"]
    assert [f.cell for f in pipe.step("b").seeds] == [3]


def test_torch_seed_across_steps_is_a_warning_and_strict_refuses(load_cells):
    cells = [
        ("imports", "import torch\ntorch.manual_seed(0)"),
        ("step:a", "a = torch.rand(2)"),
        ("step:b", "b = torch.rand(2)"),
    ]
    pipe = load_cells(cells)
    [w] = [str(d) for d in pipe.diagnostics if d.code == "random-uncarried"]
    assert w.startswith("warning: cell 3, line 1: step 'b' draws from torch's global random")
    with pytest.raises(StrictError, match="torch's global random generator"):
        load_cells(cells, strict=True)
    single = load_cells(cells[:2])
    assert not [d for d in single.diagnostics if d.code == "random-uncarried"]


def test_an_after_tag_against_the_chain_is_a_cycle(load_cells):
    cells = [
        ("imports", "import numpy as np\nnp.random.seed(0)"),
        ("step:a after:b", "a = np.random.rand()"),
        ("step:b", "b = np.random.rand()"),
    ]
    with pytest.raises(AnalysisError, match="cycle"):
        load_cells(cells)


def test_generated_code_keeps_the_users_signature(convert_cells):
    cells = [
        IMPORTS,
        DATA,
        ("step:a", "a = np.random.rand(3)"),
        ("step:b", "b = a + np.random.rand(3)"),
    ]
    _, out = convert_cells(cells)
    b = (out / "steps" / "b.py").read_text()
    assert "def b(a: Any) -> dict[str, Any]:" in b
    assert 'return {"b": b}' in b
    assert "continues where step `a` left it" in b
    a = (out / "steps" / "a.py").read_text()
    assert "np.random.seed(0)" in a and "np.random.seed" not in b
    pipeline = (out / "pipeline.py").read_text()
    assert 'inputs={"a": "a", "__random_state__": "a"}' in pipeline
    assert 'random_guard=("numpy",)' in pipeline  # data: checked at run time


def test_the_unseeded_note_follows_the_order_of_seeds_in_a_step(load_cells):
    cells = [
        ("imports", "import random\nimport numpy as np"),
        ("step:a", "np.random.seed(1)\nx = np.random.rand()\ny = random.random()"),
    ]
    [note] = [str(d) for d in load_cells(cells).diagnostics if d.code == "unseeded-random"]
    assert note.startswith(
        "note: cell 2, line 3: step 'a' draws from the global random stream (random)"
    )


def test_an_object_of_a_notebook_class_that_draws_draws_where_it_is_used(load_cells):
    cells = [
        ("imports", "import numpy as np\nnp.random.seed(0)"),
        ("functions", "class Noisy:\n    def fit(self, v):\n        self.w = v + np.random.rand()\n"
         "        return self"),
        ("step:make", "m = Noisy()"),
        ("step:quiet", "k = 1"),
        ("step:fit", "m.fit(k)"),
    ]  # fmt: skip
    pipe = load_cells(cells)
    assert chain(pipe) == ["make", "fit"] and guarded(pipe) == ["quiet"]


def test_a_seed_reading_a_parameter_or_a_constant_reaches_its_step(load_cells):
    cells = [
        ("parameters", "seed = 3"),
        ("imports", "import random\nimport numpy as np\nOFFSET = 1\nnp.random.seed(seed)\n"
         "random.seed(seed + OFFSET)"),
        ("step:a", "a = np.random.rand() + random.random()"),
        ("step:b", "b = np.random.rand()"),
    ]  # fmt: skip
    pipe = load_cells(cells)
    a = pipe.step("a")
    assert [f.source for f in a.seeds] == ["np.random.seed(seed)", "random.seed(seed + OFFSET)"]
    assert a.params == ("seed",) and a.uses_common == ("OFFSET",)
    assert pipe.step("b").params == () and pipe.step("b").random == ("numpy", "random")


def test_a_notebook_function_that_seeds_runs_once_too(load_cells, warnings):
    cells = [
        ("imports", "import random\nimport numpy as np"),
        ("functions", "def set_seed(s):\n    np.random.seed(s)\n    random.seed(s)"),
        ("imports", "set_seed(4)"),
        ("step:a", "a = np.random.rand()"),
        ("step:b", "b = random.random()"),
    ]
    pipe = load_cells(cells)
    assert pipe.settings == () and warnings(pipe) == []
    assert [f.source for f in pipe.step("a").seeds] == ["set_seed(4)"]
    assert pipe.step("a").uses_common == ("set_seed",)
    assert pipe.step("b").inputs == {RS: "a"}


def test_a_seed_that_cannot_run_once_is_a_warning(load_cells, warnings):
    cells = [
        ("imports", "import numpy as np\nimport torch"),
        ("functions", "def seed_all(s):\n    np.random.seed(s)\n    torch.manual_seed(s)"),
        ("imports", "seed_all(4)"),
        ("step:a", "a = np.random.rand()"),
        ("step:b", "b = np.random.rand()"),
    ]
    pipe = load_cells(cells)
    [w] = warnings(pipe, "global-random")
    assert w.startswith("warning: cell 3: cell 3 seeds the global random stream in a statement")
    assert [f.source for f in pipe.settings] == ["seed_all(4)"]  # replayed, as before


def test_a_setting_reading_an_undefined_name_is_still_refused(load_cells):
    cells = [("imports", "import numpy as np\nnp.random.seed(SEED)\nA"), ("step:a", "a = 0")]
    with pytest.raises(AnalysisError, match="a process-wide setting reads 'SEED', which is never"):
        load_cells(cells)
