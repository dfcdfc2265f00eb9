"""The global random streams carried as the artifact __random_state__ (runtime side), and
figures flushed as Jupyter's inline backend flushes them."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from runtime_helpers import S

from nb2pipe.runtime import randomstate
from nb2pipe.runtime.randomstate import RANDOM_STATE

RS = RANDOM_STATE


def test_capture_and_restore_round_trip_as_json() -> None:
    saved = randomstate.capture(randomstate.STREAMS)
    try:
        np.random.seed(11)
        random.seed(11)
        state = randomstate.capture(("numpy", "random"))
        assert json.loads(json.dumps(state)) == state  # stored as plain JSON
        first = (np.random.rand(), random.random())
        np.random.rand(5)
        random.random()
        randomstate.restore(state)
        assert (np.random.rand(), random.random()) == first
        assert set(randomstate.capture(("random",))) == {"random"}
    finally:
        randomstate.restore(saved)


def _chain(draw_c: str = "c = 1") -> list[S]:
    """a seeds numpy and draws; b continues; c is outside the chain (guarded)."""
    imports = "import numpy as np"
    return [
        S("a", "np.random.seed(0)\na = float(np.random.rand())", outputs=("a", RS),
          imports=imports, random=("numpy",)),
        S("b", "b = float(np.random.rand())", inputs={RS: "a"}, outputs=("b", RS),
          imports=imports, random=("numpy",), cell=2),
        S("c", draw_c, outputs=("c",), imports=imports, random_guard=("numpy",), cell=3),
        S("d", "d = float(np.random.rand())", inputs={RS: "b"}, outputs=("d",),
          imports=imports, random=("numpy",), cell=4),
    ]  # fmt: skip


def _expected() -> list[float]:
    rs = np.random.RandomState(0)
    return [float(v) for v in rs.random_sample(3)]


def test_the_chain_continues_the_stream_in_process(make_pkg) -> None:
    pkg = make_pkg(_chain())
    saved = randomstate.capture(randomstate.STREAMS)
    np.random.seed(99)  # whatever the process had: the chain sets its own state
    r = pkg.run()
    randomstate.restore(saved)
    assert r.ok
    assert [r.load(s, s) for s in ("a", "b", "d")] == _expected()
    assert r.steps["c"]["warnings"] == []
    assert r.steps["b"]["inputs"][RS]["format"] == "json"


@pytest.mark.integration
def test_the_chain_continues_in_workers_and_from_the_cache(make_pkg) -> None:
    pkg = make_pkg(_chain())
    proc = pkg.cli("-j", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    again = pkg.cli("--only", "d", "--force", "-q")  # resumes from the stored state of b
    assert again.returncode == 0, again.stderr
    first, second = sorted(p for p in pkg.runs.iterdir() if p.name != "store")
    from nb2pipe.runtime.store import ArtifactRef, LocalStore

    store = LocalStore(pkg.runs / "store")

    def value(run_dir, step):
        record = json.loads((run_dir / "run.json").read_text())["steps"][step]
        return store.load(ArtifactRef.from_json(record["outputs"][step])), record["status"]

    assert [value(first, s)[0] for s in ("a", "b", "d")] == _expected()
    assert value(second, "d") == (_expected()[2], "ok")
    assert value(second, "b")[1] == "cached"


def test_the_cache_key_holds_the_incoming_state(make_pkg) -> None:
    pkg = make_pkg(_chain())
    assert pkg.run().ok
    steps = _chain()
    steps[0] = S("a", "np.random.seed(1)\na = float(np.random.rand())", outputs=("a", RS),
                 imports="import numpy as np", random=("numpy",))  # fmt: skip
    pkg.write_step(steps[0])
    r = pkg.run()
    assert r.steps["b"]["status"] == "ok"
    assert "input __random_state__ changed" in r.steps["b"]["reason"]
    assert r.steps["c"]["status"] == "cached"  # outside the chain: unaffected


def test_a_draw_outside_the_chain_is_a_warning(make_pkg, capsys) -> None:
    pkg = make_pkg(_chain("c = float(np.random.rand())"))
    r = pkg.run(progress="plain")
    assert r.ok
    [warning] = r.steps["c"]["warnings"]
    assert warning.startswith("step 'c' drew from the global random stream (numpy.random)")
    assert "notebook" in warning
    assert "warning: step 'c' drew from the global random stream" in capsys.readouterr().out
    assert r.steps["a"]["warnings"] == [] and r.steps["d"]["warnings"] == []


def test_figures_are_flushed_at_show_and_at_the_step_end(make_pkg) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    body = (
        "plt.bar([1, 2], [3, 4])\nplt.show()\nax = plt.gca()\nn = len(ax.patches)\n"
        "plt.plot([1, 2])\nplt.figure()\nplt.plot([0, 1])"
    )
    pkg = make_pkg([S("plots", body, outputs=("n",), imports="import matplotlib.pyplot as plt")])
    before = matplotlib.get_backend()
    r = pkg.run()
    assert r.ok and r.load("plots", "n") == 0  # show() closed the bar chart's figure
    assert r.steps["plots"]["figures"] == [f"figures/plots-{i}.png" for i in (1, 2, 3)]
    for name in r.steps["plots"]["figures"]:
        assert (r.run_dir / name).read_bytes().startswith(b"\x89PNG")
    assert matplotlib.get_backend() == before and plt.get_fignums() == []
