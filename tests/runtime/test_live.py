"""Outputs handed over in memory, large ones stored in the background (issue 12): the
stored artifacts and what each step sees stay exactly what they are when every step
reads its inputs from the store."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from runtime_helpers import S
from test_processes import _wait_for, check_store

from nb2pipe.mlops.runs import read_run
from nb2pipe.runtime import execute as execute_module
from nb2pipe.runtime.fingerprint import data_digest
from nb2pipe.runtime.store import LocalStore, ValueChanged

NP = "import numpy as np"
PD = "import numpy as np\nimport pandas as pd"
N = 1_000_000  # 8 MB of float64: above BACKGROUND_BYTES, so written in the background


def test_large_outputs_are_written_in_the_background() -> None:
    assert N * 8 >= execute_module.BACKGROUND_BYTES


def test_outputs_are_handed_over_in_memory(make_pkg: Any) -> None:
    steps = [
        S("a", f"x = np.arange({N}.0)\nida = id(x)", outputs=("x", "ida"), imports=NP),
        S("b", "idb = id(x)\ntotal = float(x.sum())", inputs={"x": "a"}, outputs=("idb", "total")),
    ]
    pkg = make_pkg(steps)
    r = pkg.run()
    assert r.ok, r.error
    assert r.load("b", "idb") == r.load("a", "ida")  # the very object, not a copy
    np.testing.assert_array_equal(r.load("a", "x"), np.arange(N, dtype=float))
    assert r.outputs["a"]["x"].content == data_digest(np.arange(N, dtype=float))
    assert r.steps["b"]["inputs"]["x"]["hash"] == r.outputs["a"]["x"].hash
    par = pkg.run(jobs=2, force=True)  # workers read the stored value
    assert par.ok and par.load("b", "idb") != par.load("a", "ida")
    assert par.outputs["a"]["x"] == r.outputs["a"]["x"]  # the same artifact either way


FRAME = S("a", f"df = pd.DataFrame({{'v': np.arange({N}.0)}})", outputs=("df",), imports=PD)
ARRAY = S("a", f"df = np.arange({N}.0)", outputs=("df",), imports=NP)
CHANGE_FRAME = "df['v'] += 1\ndf['w'] = 2.0\nfirst = float(df['v'].iloc[0])"
CHANGE_ARRAY = "df += 1\nfirst = float(df[0])"


@pytest.mark.parametrize(("make", "change"), [(FRAME, CHANGE_FRAME), (ARRAY, CHANGE_ARRAY)])
def test_an_input_changed_in_place_is_stored_as_it_was(make_pkg: Any, make: S, change: str) -> None:
    """Step b declares it changes df (df is one of its outputs); step c, after it, reads
    step a's df: it must see a's value, as it would from the store, and a's artifact must
    be the value a returned (a copy-on-write view for frames, the write first for arrays)."""
    steps = [
        make,
        S("b", change, inputs={"df": "a"}, outputs=("df", "first")),
        S("c", "total = float(df.sum().sum())\nc_first = float(np.asarray(df).flat[0])",
          inputs={"df": "a"}, outputs=("total", "c_first"), imports=NP),
    ]  # fmt: skip
    r = make_pkg(steps).run()
    assert r.ok, r.error
    assert r.load("b", "first") == 1.0
    assert r.load("c", "c_first") == 0.0 and r.load("c", "total") == float(np.arange(N).sum())
    stored = np.asarray(r.load("a", "df")).ravel()
    assert stored[0] == 0.0 and stored[-1] == N - 1
    assert np.asarray(r.load("b", "df")).ravel()[0] == 1.0


@pytest.mark.parametrize("guard", ["allow-mutation", "no-guard"])
def test_an_undeclared_change_never_reaches_stored_values(make_pkg: Any, guard: str) -> None:
    steps = [
        ARRAY,
        S("b", "df += 1\nfirst = float(df[0])", inputs={"df": "a"}, outputs=("first",)),
        S("c", "c_first = float(df[0])", inputs={"df": "a"}, outputs=("c_first",)),
    ]
    options = {"allow_mutation": True} if guard == "allow-mutation" else {"guard": False}
    r = make_pkg(steps).run(**options)
    assert r.ok, r.error
    assert r.load("b", "first") == 1.0
    assert r.load("c", "c_first") == 0.0  # c reads a's value, as stored
    assert r.load("a", "df")[0] == 0.0
    if guard == "allow-mutation":
        assert "changed its input 'df'" in r.steps["b"]["warnings"][0]


def test_a_failing_step_keeps_the_artifacts_being_written(make_pkg: Any) -> None:
    big = "; ".join(f"x{i} = np.full({4 * N}, {i}.0)" for i in range(4))
    steps = [
        S("a", big, outputs=tuple(f"x{i}" for i in range(4)), imports=NP),
        S("b", "raise ValueError('boom')\ny = 1", inputs={"x0": "a"}, outputs=("y",)),
    ]
    pkg = make_pkg(steps)
    r = pkg.run()
    assert r.steps["a"]["status"] == "ok" and r.steps["b"]["status"] == "failed"
    store = LocalStore(r.store_dir)
    for i in range(4):
        ref = r.outputs["a"][f"x{i}"]
        assert store.exists(ref) and store.load(ref)[0] == float(i)
    pkg.write_step(S("b", "y = float(x0[0])", inputs={"x0": "a"}, outputs=("y",)))
    again = pkg.run()
    assert again.steps["a"]["status"] == "cached" and again.load("b", "y") == 0.0


def test_a_value_changed_while_written_is_not_stored(tmp_path: Any) -> None:
    store = LocalStore(tmp_path)
    value = np.arange(1000.0)
    content = data_digest(value)
    value[0] = 42.0  # what a later step does while the writer runs
    with pytest.raises(ValueChanged):
        store.save_value(value, "npy", content or "", verify=True)
    assert not [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    ref = store.save_value(value, "npy", data_digest(value) or "", verify=True)
    assert store.load(ref)[0] == 42.0


def test_storage_is_recorded_and_nothing_is_stored_twice(make_pkg: Any) -> None:
    steps = [
        S("a", f"x = np.arange({N}.0)\ny = x * 1", outputs=("x", "y"), imports=NP),
        S("b", "n = len(x)", inputs={"x": "a"}, outputs=("n",)),
    ]
    pkg = make_pkg(steps)
    first = pkg.run()
    storage = read_run(first.run_dir)["storage"]
    sizes = {ref.hash: ref.size for refs in first.outputs.values() for ref in refs.values()}
    assert len(sizes) == 2  # x and y are equal: one artifact
    assert storage["artifacts"] == 2 and storage["bytes"] == sum(sizes.values())
    assert storage["written"] == storage["bytes"]
    again = pkg.run(force=True)  # the same values again: nothing new written
    assert read_run(again.run_dir)["storage"]["written"] == 0
    assert again.outputs == first.outputs
    files = [p for p in (first.store_dir / "objects").rglob("*") if p.is_file()]
    assert len(files) == 2  # x (= y) and n, nothing else


def test_runs_show_reports_the_storage(make_pkg: Any) -> None:
    from typer.testing import CliRunner

    from nb2pipe.frontends.cli import app

    pkg = make_pkg([S("a", f"x = np.arange({N}.0)", outputs=("x",), imports=NP)])
    r = pkg.run(run_id="one")
    shown = CliRunner().invoke(app, ["runs", "show", "one", "--runs-dir", str(pkg.runs)])
    assert shown.exit_code == 0, shown.output
    size = r.outputs["a"]["x"].size
    assert f"store: 1 artifact, {size / 2**20:.1f} MB written by this run" in shown.output
    as_json = CliRunner().invoke(
        app, ["runs", "show", "one", "--runs-dir", str(pkg.runs), "--json"]
    )
    assert json.loads(as_json.output)["storage"]["written"] == size


@pytest.mark.integration
def test_sigkill_during_a_background_write(make_pkg: Any) -> None:
    """Killed while step a's outputs are being written and step b runs: no corrupt object,
    no cache entry pointing to a missing one; the next run recomputes only what is not
    stored (a is cached exactly when its entry was written)."""
    big = "; ".join(f"x{i} = np.full({8 * N}, {i}.0)" for i in range(4))
    steps = [
        S("a", big, outputs=tuple(f"x{i}" for i in range(4)), imports=NP),
        S(
            "b",
            "open('started', 'w').close()\ntime.sleep(30)\ny = float(x3[0])",
            inputs={"x3": "a"},
            outputs=("y",),
            imports="import time",
        ),
    ]
    pkg = make_pkg(steps)
    for attempt in range(3):
        (pkg.workdir / "started").unlink(missing_ok=True)
        proc = pkg.popen("--run-id", f"killed{attempt}", "--force")
        _wait_for(pkg.workdir / "started", proc)
        time.sleep(0.05 * attempt)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        check_store(pkg.runs / "store")
    entries = list((pkg.runs / "store" / "steps").rglob("a.*.json"))
    pkg.write_step(S("b", "y = float(x3[0])", inputs={"x3": "a"}, outputs=("y",)))
    done = pkg.cli("--run-id", "after")
    assert done.returncode == 0, done.stderr
    after = read_run(pkg.runs / "after")
    assert after["steps"]["a"]["status"] == ("cached" if entries else "ok")
    assert after["steps"]["b"]["status"] == "ok" and after["storage"]["artifacts"] == 5
    check_store(pkg.runs / "store")


def test_frames_written_in_the_background_read_back_equal(make_pkg: Any) -> None:
    body = (
        f"df = pd.DataFrame({{'f': np.arange({N}.0), 'c': pd.Categorical(['a', 'b'] * {N // 2}),"
        f" 's': pd.array(['x', None] * {N // 2}, dtype='str'),"
        f" 'i': pd.array([1, None] * {N // 2}, dtype='Int64')}})"
    )
    pkg = make_pkg([S("a", body, outputs=("df",), imports=PD)])
    r = pkg.run()
    assert r.ok and r.outputs["a"]["df"].format == "arrow"
    back = r.load("a", "df")
    assert list(back.dtypes.astype(str)) == ["float64", "category", "str", "Int64"]
    assert back["f"].iloc[-1] == N - 1 and pd.isna(back["s"].iloc[1]) and back["c"].iloc[1] == "b"


def test_runs_gc_removes_temporary_files_of_killed_runs(make_pkg: Any) -> None:
    from nb2pipe.mlops import runs

    pkg = make_pkg([S("a", "x = 1", outputs=("x",))])
    pkg.run()
    tmp = pkg.runs / "store" / "objects" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    old, fresh = tmp / "1-old.tmp", tmp / "2-fresh.tmp"
    old.write_bytes(b"x" * 10)
    fresh.write_bytes(b"y")  # a write in progress (another run on the same store)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    result = runs.gc(pkg.runs, 5)
    assert not old.exists() and fresh.exists() and result.artifacts == 1


def test_an_undeclared_change_during_a_write_never_stores_a_wrong_value(make_pkg: Any) -> None:
    """b changes a's output in place while the writer may still be storing it: the guard
    fails b, and a's artifact is either the value a returned or not stored at all (a is
    then failed, and recomputed by the next run)."""
    steps = [
        S("a", f"x = np.zeros({10 * N})", outputs=("x",), imports=NP),
        S("b", "x += 1\ny = 1", inputs={"x": "a"}, outputs=("y",)),
    ]
    pkg = make_pkg(steps)
    r = pkg.run()
    assert r.steps["b"]["error"]["kind"] == "mutation"
    if r.steps["a"]["status"] == "ok":
        assert float(r.load("a", "x").max()) == 0.0
    else:
        assert "changed it in place" in r.steps["a"]["error"]["message"]
    pkg.write_step(S("b", "y = float(x.max())", inputs={"x": "a"}, outputs=("y",)))
    again = pkg.run()
    assert again.ok and again.load("b", "y") == 0.0
