"""Runs in subprocesses: parallel steps, light imports, SIGKILL, Ctrl-C, concurrent runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import S, diamond_steps, overlap, statuses

from nb2pipe.mlops.runs import read_run
from nb2pipe.runtime.hashing import digest_algorithm, digest_file
from nb2pipe.runtime.records import parse_iso

pytestmark = pytest.mark.integration


RENDEZVOUS = """
open('{me}.started', 'w').close()
deadline = time.monotonic() + 60
while not os.path.exists('{other}.started') and time.monotonic() < deadline:
    time.sleep(0.01)
{out} = os.path.exists('{other}.started')
"""


@pytest.mark.parametrize("executor", ["fork", "process"])
def test_parallel_branches_overlap(make_pkg: Any, executor: str) -> None:
    """The two branches wait for each other (up to a minute), so with -j 2 they must be
    running at the same time, however slowly the workers start; run.json must show it."""
    steps = diamond_steps()
    imports = "import os\nimport time"
    left = RENDEZVOUS.format(me="left", other="right", out="met")
    right = RENDEZVOUS.format(me="right", other="left", out="met")
    steps[1] = S("left", left + "left_out = [met]", inputs={"rows": "load"},
                 outputs=("left_out",), imports=imports)  # fmt: skip
    steps[2] = S("right", right + "right_out = int(met)", inputs={"n": "load"},
                 outputs=("right_out",), imports=imports)  # fmt: skip
    pkg = make_pkg(steps, [("k", int, 2)])
    (pkg.workdir / "data.csv").write_text("a\nb\n")
    par = pkg.run(jobs=2, executor=executor)
    assert par.ok, par.error
    assert par.load("left", "left_out") == [True] and par.load("right", "right_out") == 1
    left_rec, right_rec = par.steps["left"], par.steps["right"]
    assert overlap(left_rec, right_rec)
    assert left_rec["pid"] != right_rec["pid"] != os.getpid()
    if executor == "fork":  # imported here before the fork: the children inherit the imports
        assert {f"{pkg.name}.steps.left", f"{pkg.name}.steps.right"} <= set(sys.modules)
    join_start = parse_iso(par.steps["join"]["start"])
    assert join_start >= max(parse_iso(left_rec["end"]), parse_iso(right_rec["end"]))


def test_sequential_and_parallel_make_the_same_artifacts(make_pkg: Any) -> None:
    pkg = make_pkg(diamond_steps(), [("k", int, 2)])
    (pkg.workdir / "data.csv").write_text("a\nb\n")
    seq = pkg.run()
    assert not overlap(seq.steps["left"], seq.steps["right"])
    par = pkg.run(jobs=2, force=True)
    assert par.outputs == seq.outputs


@pytest.mark.parametrize("executor", ["fork", "process"])
def test_parallel_failure_and_resume(make_pkg: Any, executor: str) -> None:
    steps = diamond_steps()
    steps[1] = S(**{**steps[1].__dict__, "body": "# cell 4\nleft_out = rows[10]"})
    pkg = make_pkg(steps, [("k", int, 2)])
    (pkg.workdir / "data.csv").write_text("a\nb\n")
    r = pkg.run(jobs=2, executor=executor)
    assert statuses(r) == {"load": "ok", "left": "failed", "right": "ok", "join": "skipped"}
    assert r.steps["left"]["error"]["message"].startswith("step 'left' failed at cell 4, line 1")
    pkg.write_step(diamond_steps()[1])
    r = pkg.run(jobs=2, executor=executor)
    assert statuses(r) == {"load": "cached", "left": "ok", "right": "cached", "join": "ok"}


HEAVY = [
    S(
        "make",
        "df = pd.DataFrame(load_iris(as_frame=True).frame)\nmodel = LogisticRegression(max_iter=500).fit(df.iloc[:, :4], df['target'])",
        outputs=("df", "model"),
        imports="import pandas as pd\nfrom sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression",
        distributions=("pandas", "scikit-learn"),
    ),
    S(
        "score",
        "acc = float(model.score(df.iloc[:, :4], df['target']))",
        inputs={"df": "make", "model": "make"},
        outputs=("acc",),
        metrics=("acc",),
        distributions=("scikit-learn",),
    ),
]

PROBE = """
import json, sys
import nb2pipe.runtime
from {pkg}.pipeline import PIPELINE
code = nb2pipe.runtime.main(PIPELINE, sys.argv[1:])
heavy = ["nbformat", "jinja2", "typer", "sklearn", "pandas", "numpy", "pyarrow", "joblib",
         "matplotlib", "rich", "yaml"]
print(json.dumps({{"code": code, "loaded": [m for m in heavy if m in sys.modules]}}))
"""


def test_runtime_imports_are_light(make_pkg: Any) -> None:
    pkg = make_pkg(HEAVY)
    cold = pkg.cli()
    assert cold.returncode == 0, cold.stderr
    probe = pkg.root / "probe.py"
    probe.write_text(PROBE.format(pkg=pkg.name))
    out = subprocess.run(
        [sys.executable, str(probe), "--runs-dir", str(pkg.runs)],
        cwd=pkg.root,
        env=pkg.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}, out.stdout
    last = sorted(p for p in pkg.runs.iterdir() if p.name != "store")[-1]
    data = read_run(last)
    assert {s["status"] for s in data["steps"].values()} == {"cached"}
    assert data["metrics"]["acc"] > 0.9
    assert data["versions"]["distributions"]["scikit-learn"]


def test_python_m_exit_codes(make_pkg: Any) -> None:
    pkg = make_pkg([S("boom", "# cell 3\nx = 1\nraise ValueError('bad input')", outputs=("x",))])
    r = pkg.cli()
    assert r.returncode == 1
    assert (
        "step 'boom' failed at cell 3, line 2" in r.stderr and "ValueError: bad input" in r.stderr
    )
    assert pkg.cli("-p", "nope=1").returncode == 2


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


SLOW = [
    S("first", "a = list(range(1000))", outputs=("a",)),
    S(
        "slow",
        "open('started', 'w').close()\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\nb = sum(a)",
        inputs={"a": "first"},
        outputs=("b",),
        imports="import os\nimport time",
    ),
    S("last", "c = b + 1", inputs={"b": "slow"}, outputs=("c",)),
]


def check_store(store: Path) -> None:
    """Every artifact matches its name; every cache entry points at whole artifacts."""
    for obj in (store / "objects").glob("*/*"):
        if obj.suffix in (".tmp", ".corrupt"):
            continue
        digest = obj.name.split(".")[0]
        assert digest_file(obj, digest_algorithm(digest) or "?") == digest, obj
    for entry in (store / "steps").glob("*/*.json"):
        json.loads(entry.read_text())


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigkill_mid_step_then_rerun(make_pkg: Any, jobs: str) -> None:
    pkg = make_pkg(SLOW)
    proc = pkg.popen("-j", jobs, "--run-id", "killed")
    _wait_for(pkg.workdir / "started", proc)
    deadline = time.monotonic() + 10  # run.json is rewritten at most every 0.2 s
    while read_run(pkg.runs / "killed")["steps"]["slow"]["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = read_run(pkg.runs / "killed")  # still valid JSON
    assert killed["status"] == "running" and killed["steps"]["first"]["status"] == "ok"
    check_store(pkg.runs / "store")
    (pkg.workdir / "go").touch()
    r = pkg.cli("-j", jobs, "--run-id", "after")
    assert r.returncode == 0, r.stderr
    after = read_run(pkg.runs / "after")
    assert {n: s["status"] for n, s in after["steps"].items()} == {
        "first": "cached",
        "slow": "ok",
        "last": "ok",
    }
    assert after["metrics"] == {}
    check_store(pkg.runs / "store")


def test_sigkill_while_writing_large_artifacts(make_pkg: Any) -> None:
    body = "import numpy as np\nbig = np.random.default_rng(seed).random(4_000_000)"
    pkg = make_pkg([S("big", body, outputs=("big",), params=("seed",))], [("seed", int, 0)])
    for i, delay in enumerate((0.3, 0.5, 0.7, 0.9)):
        proc = pkg.popen("-p", f"seed={i}")
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        check_store(pkg.runs / "store")
    r = pkg.cli("-p", "seed=3")
    assert r.returncode == 0, r.stderr
    check_store(pkg.runs / "store")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_exits_130_and_leaves_nothing_corrupt(make_pkg: Any, jobs: str) -> None:
    pkg = make_pkg(SLOW)
    proc = pkg.popen("-j", jobs, "--run-id", "stopped")
    _wait_for(pkg.workdir / "started", proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    stopped = read_run(pkg.runs / "stopped")
    assert stopped["status"] == "interrupted"
    assert stopped["steps"]["slow"]["status"] == "failed"
    assert stopped["steps"]["last"]["status"] == "skipped"
    check_store(pkg.runs / "store")
    (pkg.workdir / "go").touch()
    assert pkg.cli("-j", jobs).returncode == 0


def test_two_runs_at_once_in_the_same_runs_dir(make_pkg: Any) -> None:
    pkg = make_pkg(diamond_steps(sleep=0.2), [("k", int, 2)])
    (pkg.workdir / "data.csv").write_text("a\nb\nc\n")
    procs = [pkg.popen(), pkg.popen("-j", "2"), pkg.popen("-p", "k=3")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    runs = [read_run(p) for p in pkg.runs.iterdir() if p.name != "store"]
    assert len(runs) == 3 and {r["status"] for r in runs} == {"ok"}
    assert len({r["run_id"] for r in runs}) == 3
    check_store(pkg.runs / "store")
    r = pkg.run()
    assert set(statuses(r).values()) == {"cached"} and r.load("join", "total") == 7
    assert pkg.run(params={"k": 3}).load("left", "left_out") == ["aaa", "bbb", "ccc"]


def test_worker_logs_and_figures(make_pkg: Any) -> None:
    body = "print('hello from', os.getpid())\nplt.plot([1, 2])\nx = 1"
    imports = "import os\nimport matplotlib.pyplot as plt"
    pkg = make_pkg(
        [
            S("a", body, outputs=("x",), imports=imports),
            S("b", "y = 2\nprint('b here')", outputs=("y",)),
        ]
    )
    r = pkg.run(jobs=2)
    assert r.ok, r.error
    assert f"hello from {r.steps['a']['pid']}" in (r.run_dir / "logs" / "a.log").read_text()
    assert "b here" in (r.run_dir / "logs" / "b.log").read_text()
    assert r.steps["a"]["figures"] == ["figures/a-1.png"]


def test_live_display_on_a_terminal(diamond: Any) -> None:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", diamond.name, "--runs-dir", str(diamond.runs)],
        cwd=diamond.root, env={**diamond.env(), "TERM": "xterm"}, stdin=slave, stdout=slave,
        stderr=slave, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    out = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "\x1b[" in out  # rich drew the table
    for name in ("load", "left", "right", "join"):
        assert name in out
    assert "[nb2pipe] run " in out and " ok in " in out


@pytest.mark.parametrize("executor", ["fork", "process"])
def test_a_worker_that_dies_fails_its_step_only(make_pkg: Any, executor: str) -> None:
    steps = [
        S("crash", "os._exit(3)\nx = 1", outputs=("x",), imports="import os"),
        S("fine", "y = 2", outputs=("y",)),
        S("after", "z = y + 1", inputs={"y": "fine"}, outputs=("z",)),
    ]
    r = make_pkg(steps).run(jobs=2, executor=executor)
    assert r.exit_code == 1 and r.steps["crash"]["status"] == "failed"
    assert "worker process died" in r.steps["crash"]["error"]["message"]
    assert r.steps["after"]["status"] == "ok"  # the bystander ran again, alone, and passed
    assert r.steps["fine"]["status"] == "ok"


LAYOUT_LOAD = """
arr = np.arange(4000.0).reshape(1000, 4)
df = pd.DataFrame(arr, columns=list('abcd'), copy=False)  # a block in Fortran order
df['e'] = df['a'] / 7  # a second float block (consolidated when read back)
df['y'] = (df['a'] % 3).astype('int64')
df['s'] = pd.array([None if i % 7 == 0 else f'v{i}' for i in range(1000)], dtype='str')
"""


def test_content_digests_do_not_depend_on_where_a_step_ran(make_pkg: Any) -> None:
    """A frame handed over in memory (-j 1: unconsolidated blocks in Fortran order) and
    the same frame read back from the store in a worker (-j 2: consolidated, C order)
    give the step that slices it outputs of equal content digests, hence equal cache
    keys: a run with the other executor takes every step from the cache."""
    imports = "import numpy as np\nimport pandas as pd"
    steps = [
        S("load", LAYOUT_LOAD, outputs=("df",), imports=imports),
        S("split", "X = df.drop(columns='y')\npart = X.iloc[::3]\nvals = part[['a', 'b']].values",
          inputs={"df": "load"}, outputs=("part", "vals"), imports=imports),
        S("use", "total = float(part['a'].sum() + vals.sum())", inputs={"part": "split",
          "vals": "split"}, outputs=("total",), metrics=("total",)),
    ]  # fmt: skip
    pkg = make_pkg(steps)
    seq = pkg.run()
    assert seq.ok, seq.error
    par = pkg.run(jobs=2, executor="process", force=True)
    assert par.ok, par.error
    assert par.steps["split"]["pid"] != seq.steps["split"]["pid"]
    for name in ("part", "vals"):
        assert seq.outputs["split"][name].content, name
        assert par.outputs["split"][name] == seq.outputs["split"][name], name
    assert par.steps["use"]["cache_key"] == seq.steps["use"]["cache_key"]
    again = pkg.run(jobs=2, executor="process")
    assert statuses(again) == dict.fromkeys(("load", "split", "use"), "cached")
