"""Step limits (issue 16): --timeout S, the cell option `#| nb2pipe: timeout=S`,
--max-memory SIZE; their parsing, their way through convert into the package and the
Airflow export, and real runs over them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from runtime_helpers import S

from nb2pipe import api
from nb2pipe.errors import Nb2pipeError
from nb2pipe.mlops.runs import read_run
from nb2pipe.runtime import limits
from nb2pipe.runtime.capture import ECHO_CAP
from nb2pipe.runtime.spec import Step


def test_sizes_and_seconds() -> None:
    assert limits.size("512M") == 512 << 20 and limits.size("2g") == 2 << 30
    assert limits.size("1.5GiB") == 3 << 29 and limits.size("4096") == 4096
    assert limits.seconds("2.5") == 2.5
    for bad in ("0", "-1", "nan", "inf", "soon"):
        with pytest.raises(ValueError):
            limits.seconds(bad)
    for bad in ("0", "12X", "", "M"):
        with pytest.raises(ValueError):
            limits.size(bad)
    step = Step("s", tags=("limit:cpu:1", "timeout=3"))
    assert limits.step_timeout(step, 10.0) == 3.0
    assert limits.step_timeout(Step("t"), 10.0) == 10.0


def _notebook(folder: Path, option: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell("#| nb2pipe: step:load\nx = 1"),
        nbformat.v4.new_code_cell(
            f"#| nb2pipe: step:slow {option}\nimport time\nwhile x:\n    time.sleep(0.01)\ny = x"
        ),
        nbformat.v4.new_code_cell("#| nb2pipe: step:last\nz = y + 1"),
    ]
    path = folder / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_timeout_cell_option_reaches_the_package_and_airflow(tmp_path: Path) -> None:
    from nb2pipe.exporters import export

    nb = _notebook(tmp_path, "timeout=90")
    pipe, out, _ = api.convert(nb, tmp_path / "pkg")
    text = (out / "pipeline.py").read_text()
    assert 'tags=("timeout=90",)' in text
    sys.path.insert(0, str(tmp_path))
    try:
        from pkg.pipeline import PIPELINE

        dag = tmp_path / "dag.py"
        export("airflow", out, dag, {"timeout": 30.0})
        dag_text = dag.read_text()
        assert dag_text.count("execution_timeout=timedelta(seconds=30.0)") == 2  # load, last
        assert dag_text.count("execution_timeout=timedelta(seconds=90.0)") == 1  # slow
        assert limits.step_timeout(PIPELINE.step("slow"), None) == 90.0
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m == "pkg" or m.startswith("pkg.")]:
            del sys.modules[mod]
    with pytest.raises(Nb2pipeError, match="positive number of seconds"):
        api.load(_notebook(tmp_path, "timeout=-5"))


class _Artifact:
    """What KFP hands a component: a path and a metadata dict."""

    def __init__(self, path: Path) -> None:
        self.path, self.metadata = str(path), {}


def test_the_kfp_export_timeout_reaches_each_component_and_stops_the_step(
    tmp_path: Path,
) -> None:
    """KFP's DSL has no task timeout (PipelineTask: retries, resources, caching only): the
    export's --timeout goes to run_kfp_step in each component, and the runtime stops the
    step there (a step's own `timeout=S` wins, as in the Airflow export)."""
    from nb2pipe.exporters import ExportError, export
    from nb2pipe.runtime.remote import StepFailed, run_kfp_step

    pipe, out, _ = api.convert(_notebook(tmp_path, ""), tmp_path / "kpkg")
    plain = tmp_path / "plain_kfp.py"
    export("kfp", out, plain, {"compile": False})
    assert "timeout=" not in plain.read_text()
    limited = tmp_path / "limited_kfp.py"
    export("kfp", out, limited, {"compile": False, "timeout": 1.5})
    assert limited.read_text().count("timeout=1.5,") == 3  # load, slow, last
    with pytest.raises(ExportError, match="positive number of seconds"):
        export("kfp", out, tmp_path / "bad_kfp.py", {"compile": False, "timeout": -1.0})

    x, y = _Artifact(tmp_path / "x"), _Artifact(tmp_path / "y")
    try:
        run_kfp_step("kpkg", "load", package_path=tmp_path, outputs={"x": x}, timeout=1.5)
        with pytest.raises(StepFailed, match="over its time limit of 1.5 s") as info:
            run_kfp_step("kpkg", "slow", package_path=tmp_path, inputs={"x": x},
                         outputs={"y": y}, timeout=1.5)  # fmt: skip
        assert info.value.kind == "timed_out"
    finally:
        for mod in [m for m in sys.modules if m == "kpkg" or m.startswith("kpkg.")]:
            del sys.modules[mod]


@pytest.mark.integration
def test_a_step_over_its_cell_timeout_is_stopped(tmp_path: Path) -> None:
    nb = _notebook(tmp_path, "timeout=1")
    api.convert(nb, tmp_path / "pkg")
    r = subprocess.run([sys.executable, "-m", "nb2pipe.frontends.cli", "run", "pkg", "--run-id", "t"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "step 'slow' stopped at cell 2, line 4" in r.stderr, r.stderr
    assert "over its time limit of 1 s" in r.stderr
    rec = read_run(tmp_path / "runs" / "t")
    assert rec["status"] == "failed"
    assert {n: s["status"] for n, s in rec["steps"].items()} == {
        "load": "ok", "slow": "timed_out", "last": "skipped"}  # fmt: skip
    assert rec["steps"]["slow"]["error"]["kind"] == "timed_out"


LOOP = "open('started', 'w').close()\nwhile True:\n    time.sleep(0.01)\nb = a"


@pytest.mark.integration
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_step_over_timeout_is_stopped(make_pkg: Any, jobs: str) -> None:
    pkg = make_pkg([
        S("first", "a = 1", outputs=("a",)),
        S("spin", LOOP, inputs={"a": "first"}, outputs=("b",), imports="import time", cell=3),
        S("last", "c = b", inputs={"b": "spin"}, outputs=("c",)),
    ])  # fmt: skip
    r = pkg.cli("--timeout", "1.5", "-j", jobs, "--run-id", "t")
    assert r.returncode == 1, r.stderr
    rec = read_run(pkg.runs / "t")
    assert [s["status"] for s in rec["steps"].values()] == ["ok", "timed_out", "skipped"]
    assert rec["steps"]["spin"]["error"]["cell"] == 3
    assert "over its time limit of 1.5 s" in rec["steps"]["spin"]["error"]["message"]
    assert (pkg.workdir / "started").exists()  # stopped while running, not refused before
    assert pkg.cli("--timeout", "0").returncode == 2


@pytest.mark.integration
def test_a_step_over_max_memory_is_recorded_out_of_memory(make_pkg: Any) -> None:
    hog = "big = np.ones(2**31, dtype=np.uint8)\nb = int(big[0]) + a"
    pkg = make_pkg([
        S("first", "a = 1", outputs=("a",)),
        S("hog", hog, inputs={"a": "first"}, outputs=("b",), imports="import numpy as np",
          cell=5),
        S("last", "c = b", inputs={"b": "hog"}, outputs=("c",)),
    ])  # fmt: skip
    r = pkg.cli("--max-memory", "256M", "--run-id", "m")
    assert r.returncode == 1, r.stderr
    assert "step 'hog' stopped at cell 5, line 1" in r.stderr
    assert "out of memory (--max-memory 256M)" in r.stderr
    rec = read_run(pkg.runs / "m")
    assert [s["status"] for s in rec["steps"].values()] == ["ok", "out_of_memory", "skipped"]
    assert rec["steps"]["hog"]["pid"] != rec["pid"]  # ran in a worker
    assert pkg.cli("--max-memory", "lots").returncode == 2
    assert pkg.cli("--max-memory", "1G", "--executor", "inline").returncode == 2


def test_log_redaction_streams_and_finds_split_values(tmp_path: Path) -> None:
    from nb2pipe.runtime.execute import _redact_log

    log = tmp_path / "s.log"
    log.write_text("abc hunter2-secret def\n" * 50 + "tail hunter2-secret")
    _redact_log(log, ("hunter2-secret",), chunk=7)  # every value crosses a chunk boundary
    assert log.read_text() == "abc *** def\n" * 50 + "tail ***"
    assert [p.name for p in tmp_path.iterdir()] == ["s.log"]


FLOOD = "line = 'x' * 1023\nfor _ in range(n):\n    print(line)\nb = a"


def _max_rss_kib(pkg: Any, *args: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    """The largest RSS of the run's processes (the supervisor and the process running the
    steps), as the kernel accounts it to their parent."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)\n"
        "open('terminal.txt', 'w').write(r.stdout)\n"
        "sys.stderr.write(r.stderr[-3000:])\n"
    )
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", pkg.name,
           "--runs-dir", str(pkg.runs), *args]  # fmt: skip
    r = subprocess.run(cmd, cwd=pkg.root, env=pkg.env(), capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    rss, code = map(int, r.stdout.split())
    return rss, subprocess.CompletedProcess(cmd, code, r.stderr, "")


@pytest.mark.integration
@pytest.mark.parametrize("verbose", [False, True])
def test_a_step_printing_100_mb_does_not_grow_the_runner(make_pkg: Any, verbose: bool) -> None:
    pkg = make_pkg([
        S("first", "a = 1", outputs=("a",)),
        S("talk", FLOOD, inputs={"a": "first"}, outputs=("b",), params=("n",)),
    ], [("n", int, 1)])  # fmt: skip
    flags = ["-v"] if verbose else []
    small, r1 = _max_rss_kib(pkg, *flags, "--run-id", "small", "-p", "n=10")
    big, r2 = _max_rss_kib(pkg, *flags, "--run-id", "big", "-p", "n=100000")
    assert r1.returncode == 0 and r2.returncode == 0, r2.stdout
    log = pkg.runs / "big" / "logs" / "talk.log"
    assert log.stat().st_size >= 100_000_000  # all of it in the log
    print(f"max RSS: {small} KiB printing 10 KB, {big} KiB printing 100 MB")
    assert big - small < 40 * 1024, (small, big)  # KiB: flat, not 100 MB more
    terminal = (pkg.root / "terminal.txt").read_text()  # what the terminal got (big run)
    head = log.read_text()[: ECHO_CAP + 1024]
    if verbose:  # exactly the first MiB of the log, then where the rest is
        assert head[:ECHO_CAP] in terminal and head not in terminal
        assert f"output cut after 1 MiB: the rest is in {log}" in terminal
    else:  # none of the step's output
        assert "x" * 1023 not in terminal and "output cut" not in terminal
