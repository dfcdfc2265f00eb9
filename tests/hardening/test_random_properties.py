"""Property: notebooks that seed the global random streams (or not), draw from them
explicitly and implicitly (train_test_split, forests, KFold(shuffle=True), pandas'
sample, a shared function) and plot across cells and steps give the pipeline the
notebook's values: `verify` (papermill on a real kernel against the pipeline, here run
with -j 1 or -j 2 and sometimes resumed mid-chain from the cache) finds no difference,
or `convert --strict` refuses. A value the notebook itself computes differently on a
second run (nothing seeds it) may be 'nondeterministic', nothing else. (Every draw has
many outcomes: two runs of an unseeded notebook must not agree by chance.)"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hardening_helpers import write_notebook
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nb2pipe import api
from nb2pipe.errors import Nb2pipeError

IMPORTS = """import random

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import make_regression
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold, train_test_split"""
FUNCTIONS = "def jitter(k):\n    return [round(float(v), 12) for v in np.random.normal(size=k)]"
DATA = "X, y = make_regression(n_samples=30, n_features=3, random_state=0)"
DRAWS = (
    "{v} = float(np.random.rand())",
    "{v} = int(np.random.randint(0, 10**9))",
    "{v} = random.random()",
    "{v} = random.choice(range(10**9))",
    "{v} = [int(t) for t in train_test_split(list(range(20)), test_size=0.25)[1]]",
    "{v} = float(RandomForestRegressor(3).fit(X, y).predict(X[:1])[0])",
    "{v} = pd.Series(range(30)).sample(4).tolist()",
    "{v} = [int(i) for i in next(iter(KFold(3, shuffle=True).split(X)))[1][:5]]",
    "{v} = jitter(2)",
    "np.random.seed({k})",
    "random.seed({k})",
)
PLAIN = ("{v} = str({u})[:30]", "{v} = sum(range({k}))")
PLOTS = (
    "plt.bar([1, 2], [3, {k}])",
    "plt.plot([0, {k}])",
    "plt.show()",
    "{v} = len(plt.gca().patches) + 10 * len(plt.gca().lines)",
    "{v} = len(plt.get_fignums())",
)


@st.composite
def random_notebooks(draw: st.DrawFn) -> list:
    both = "np.random.seed(2)\nrandom.seed(2)"  # mostly: then nothing varies between runs
    seeds = draw(st.sampled_from([both, both, both, "np.random.seed(0)", "random.seed(1)", ""]))
    cells: list = [
        ("imports", IMPORTS + ("\n\n" + seeds if seeds else "")),
        ("functions", FUNCTIONS),
    ]
    defined: list[str] = []
    for s in range(draw(st.integers(2, 4))):
        for c in range(draw(st.integers(1, 3))):
            lines = [DATA] if s == c == 0 else []
            for _ in range(draw(st.integers(1, 3))):
                kind = draw(st.sampled_from((DRAWS, DRAWS, PLOTS, PLAIN)))
                template = draw(st.sampled_from(kind))
                v = f"v{len(defined)}"
                u = draw(st.sampled_from(defined)) if defined else "'x'"
                lines.append(template.format(v=v, u=u, k=draw(st.integers(1, 9))))
                if template.startswith("{v}"):
                    defined.append(v)
            cells.append((f"step:s{s}" if c == 0 else "", "\n".join(lines)))
    return cells


@pytest.mark.integration
@settings(
    max_examples=int(os.environ.get("NB2PIPE_FUZZ_RANDOM", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cells=random_notebooks(), jobs=st.sampled_from([1, 2]), resume=st.booleans())
def test_random_state_and_figures_as_the_notebook_had_them(
    cells: list, jobs: int, resume: bool, tmp_path: Path
) -> None:
    from nb2pipe.verify import verify

    root = Path(tempfile.mkdtemp(dir=tmp_path))
    path = write_notebook(root / "nb.ipynb", cells)
    try:
        pipe = api.load(path, strict=True)
    except Nb2pipeError as exc:
        event("refused: " + str(exc).split(": ", 2)[-1][:50])
        return
    chain = [s.name for s in pipe.steps if s.random]
    event(f"chain of {len(chain)}")
    runs = root / "runs"
    result = verify(path, runs_dir=runs, run_options={"jobs": jobs})
    assert result.ok, result.summary()
    unexplained = [
        r for r in result.rows if r.verdict == "nondeterministic" and "cell" not in r.detail
    ]
    assert not unexplained, unexplained
    if any(r.verdict == "nondeterministic" for r in result.rows):
        event("the notebook differs from itself")
    if resume and len(chain) > 1:
        event("resumed mid-chain")
        again = verify(path, runs_dir=runs, run_options={"from_step": chain[1], "force": True})
        assert again.ok, again.summary()
