"""Runtime faults on a generated package: SIGKILL in the middle of a write (artifact,
cache entry, run.json), a full disk, a read-only runs directory or store, corrupted run
records and store files, two runs at once. Each gets a clear one-line error, leaves no
corrupt state (every object in the store matches its hash; no record is half-written),
and the next run is correct.

Faults come from fault_injection.py: in-process through ``monkeypatch`` on
``nb2pipe.runtime.fsutil.open``, in subprocesses through a ``sitecustomize`` module.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fault_injection import ENV_FLAG, ENV_MATCH, ENV_MODE, faulty_open, write_sitecustomize
from hardening_helpers import write_notebook
from typer.testing import CliRunner

from nb2pipe import api
from nb2pipe.frontends.cli import app
from nb2pipe.runtime import fsutil, main, run
from nb2pipe.runtime.hashing import digest_algorithm, digest_file

N = 300_000
CELLS = [
    ("parameters", f"n = {N}  # how many\nscale = 2"),
    ("md", "Make a large list (a JSON artifact of a few MB)."),
    ("step:make", "big = list(range(n))\nsmall = {'n': n}"),
    ("step:double", "doubled = [x * scale for x in big[:1000]]\ncount = len(big)"),
    ("step:report", "total = sum(doubled) + count\nprint(total)"),
    ("metrics", "total"),
]


def expected_total(n: int = N, scale: int = 2) -> int:
    return sum(x * scale for x in range(min(n, 1000))) + n


@dataclass
class Pkg:
    root: Path  # the folder holding the notebook, the package and runs/
    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def store(self) -> Path:
        return self.runs / "store"

    def env(self, **faults: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NB2PIPE_FAULT")}
        env.pop("MPLBACKEND", None)
        paths = [str(self.root)]
        if faults:
            paths.insert(0, str(write_sitecustomize(self.root / "site")))
            env.update(faults)
        env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", self.name, "--runs-dir", str(self.runs), *args]

    def cli(self, *args: str, **faults: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.root,
            env=self.env(**faults),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def popen(self, *args: str, **faults: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env=self.env(**faults),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def pipeline(self) -> Any:
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        importlib.invalidate_caches()
        return importlib.import_module(f"{self.name}.pipeline").PIPELINE

    def run(self, **kw: Any) -> Any:
        kw.setdefault("runs_dir", self.runs)
        kw.setdefault("progress", "none")
        return run(self.pipeline(), **kw)

    def main(self, *args: str) -> int:
        return main(self.pipeline(), ["--runs-dir", str(self.runs), *args])


@pytest.fixture
def pkg(tmp_path: Path) -> Iterator[Pkg]:
    yield from _make_pkg(tmp_path)


def _make_pkg(root: Path) -> Iterator[Pkg]:
    name = f"faults_{uuid.uuid4().hex[:10]}"
    path = write_notebook(root / "nb.ipynb", CELLS)
    api.convert(path, root / name)
    made = Pkg(root, root / name)
    cwd = os.getcwd()
    yield made
    os.chdir(cwd)
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]
    if str(root) in sys.path:
        sys.path.remove(str(root))


def digest(path: Path) -> str:
    """The digest of a stored object, by the algorithm its name's length tells."""
    name = path.name.split(".")[0]
    return digest_file(path, digest_algorithm(name) or "sha256")


def check_store(store: Path, *, orphans_allowed: bool = True) -> None:
    """Every object is whole (its bytes hash to its name); every cache entry and record
    in the store is valid JSON; temporary files only where a process was killed."""
    for obj in sorted((store / "objects").glob("*/*")):
        if obj.name.endswith(".tmp"):
            assert orphans_allowed, f"temporary file left behind: {obj}"
            continue
        if obj.name.endswith(".corrupt"):
            continue
        assert digest(obj) == obj.name.split(".")[0], f"corrupt object in the store: {obj}"
    for entry in (store / "steps").glob("*/*.json"):
        assert isinstance(json.loads(entry.read_text()), dict), entry
    if not orphans_allowed:
        assert not [p for p in store.rglob("*.tmp")], list(store.rglob("*.tmp"))


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}


def one_line(text: str) -> None:
    assert text.count("\n") <= 1 and "Traceback" not in text, text
    assert text.strip(), "no error message"


def wait_for(flag: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"ended before the fault (exit {proc.returncode}): {err}")
        assert time.monotonic() < deadline, "the faulty write never started"
        time.sleep(0.01)


def check_next_run_is_correct(pkg: Pkg) -> dict[str, Any]:
    proc = pkg.cli("--run-id", "after")
    assert proc.returncode == 0, proc.stderr
    record = json.loads((pkg.runs / "after" / "run.json").read_text())
    assert record["status"] == "ok"
    assert record["metrics"]["total"] == expected_total()
    check_store(pkg.store)
    return record


# --- SIGKILL in the middle of a write ------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("target", "jobs"),
    [("/objects/", "1"), ("/objects/", "2"), ("/steps/", "1"), ("run.json", "1")],
    ids=["artifact", "artifact-in-a-worker", "cache-entry", "run-record"],
)
def test_sigkill_mid_write_then_the_next_run_is_correct(pkg: Pkg, target: str, jobs: str) -> None:
    flag = pkg.root / "writing"
    proc = pkg.popen(
        "-j",
        jobs,
        "--run-id",
        "killed",
        **{ENV_MATCH: target, ENV_MODE: "slow", ENV_FLAG: str(flag)},
    )
    wait_for(flag, proc)
    time.sleep(0.2)  # well inside the write (it takes about two seconds)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # What the killed run left: whole objects only, and run.json whole or absent.
    check_store(pkg.store)
    killed = pkg.runs / "killed" / "run.json"
    if killed.exists():
        assert json.loads(killed.read_text())["status"] == "running"
    listing = CliRunner().invoke(app, ["runs", "list", "--runs-dir", str(pkg.runs)])
    assert listing.exit_code == 0, listing.stderr
    record = check_next_run_is_correct(pkg)
    if target == "/objects/":  # the artifact never made it: the step ran again
        assert record["steps"]["make"]["status"] == "ok"


@pytest.mark.integration
def test_sigkill_while_a_large_value_is_pickled_and_written(tmp_path: Path) -> None:
    """No slowed writer: a ~120 MB value (pickled through joblib) and kills at several
    moments; the store only ever holds whole objects."""
    cells = [
        ("parameters", "seed = 0"),
        ("step:big", "blob = [bytes([seed % 256]) * 1_000_000 for _ in range(120)]"),
        ("step:size", "size = sum(len(b) for b in blob)"),
    ]
    path = write_notebook(tmp_path / "nb.ipynb", cells)
    api.convert(path, tmp_path / "bigpkg")
    pkg = Pkg(tmp_path, tmp_path / "bigpkg")
    for i, delay in enumerate((0.4, 0.8, 1.2)):
        proc = pkg.popen("-p", f"seed={i}")
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        check_store(pkg.store)
    done = pkg.cli("-p", "seed=7", "--run-id", "after")
    assert done.returncode == 0, done.stderr
    record = json.loads((pkg.runs / "after" / "run.json").read_text())
    assert statuses(record) == {"big": "ok", "size": "ok"}
    check_store(pkg.store)


# --- a full disk -------------------------------------------------------------------------


def test_disk_full_while_storing_an_artifact(
    pkg: Pkg, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(fsutil, "open", faulty_open("/objects/", "enospc"), raising=False)
    assert pkg.main("--run-id", "full", "-q") == 1
    err = capsys.readouterr().err
    one_line(err)
    assert "No space left on device" in err and "make" in err
    record = json.loads((pkg.runs / "full" / "run.json").read_text())
    assert record["status"] == "failed"
    assert statuses(record) == {"make": "failed", "double": "skipped", "report": "skipped"}
    assert "\n" not in record["steps"]["make"]["error"]["message"]
    check_store(pkg.store, orphans_allowed=False)  # the half-written file was removed
    monkeypatch.undo()
    check_next_run_is_correct(pkg)


@pytest.mark.parametrize("target", ["/steps/", "run.json", "files.json", "STORE"])
def test_disk_full_while_writing_records(
    pkg: Pkg, target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(fsutil, "open", faulty_open(target, "enospc"), raising=False)
    code = pkg.main("--run-id", "full", "-q")
    err = capsys.readouterr().err
    if target == "files.json":  # only a cache of file hashes: the run goes on
        assert code == 0, err
    else:
        assert code in (1, 2), err
        one_line(err)
        assert "No space left on device" in err
    record = pkg.runs / "full" / "run.json"
    if record.exists():
        json.loads(record.read_text())  # whole, whatever it says
    check_store(pkg.store, orphans_allowed=False)
    monkeypatch.undo()
    check_next_run_is_correct(pkg)


# --- read-only runs directory or store ------------------------------------------------------


def test_read_only_runs_dir_is_a_usage_error(
    pkg: Pkg, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As root, permissions are not enforced: the file system refuses instead (EROFS)."""
    real_mkdir = Path.mkdir

    def read_only(self: Path, *args: Any, **kwargs: Any) -> None:
        if str(self).startswith(str(pkg.runs)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    monkeypatch.setattr(fsutil, "open", faulty_open(str(pkg.runs), "erofs"), raising=False)
    assert pkg.main("-q") == 2
    err = capsys.readouterr().err
    one_line(err)
    assert "Read-only file system" in err and str(pkg.runs) in err
    assert not pkg.runs.exists()
    monkeypatch.undo()
    check_next_run_is_correct(pkg)


def test_read_only_store_fails_the_steps_that_must_write(
    pkg: Pkg, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that became read-only after a first run: cached steps still run from it;
    a step with a new result fails in one line naming the problem."""
    assert pkg.main("-q", "--run-id", "first") == 0
    monkeypatch.setattr(fsutil, "open", faulty_open("/store/", "erofs"), raising=False)
    assert pkg.main("-q", "--run-id", "cached") == 0  # nothing to write to the store
    capsys.readouterr()
    code = pkg.main("-q", "--run-id", "new", "-p", "scale=3")
    err = capsys.readouterr().err
    assert code == 1, err
    one_line(err)
    assert "Read-only file system" in err
    record = json.loads((pkg.runs / "new" / "run.json").read_text())
    assert record["status"] == "failed" and record["steps"]["make"]["status"] == "cached"
    check_store(pkg.store, orphans_allowed=False)
    monkeypatch.undo()
    check_next_run_is_correct(pkg)


def _nobody_can_run_python() -> bool:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            "import nb2pipe.runtime, joblib",
        ],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


@pytest.mark.integration
@pytest.mark.skipif(
    not _nobody_can_run_python(), reason="needs root, setpriv and a venv nobody can use"
)
def test_read_only_runs_dir_for_an_unprivileged_user() -> None:
    """The real thing: a runs directory the user may not write, then a store it may only
    read. (tmp_path is private to root, so this test uses a folder of its own.)"""
    root = Path(tempfile.mkdtemp(prefix="nb2pipe-ro-"))
    try:
        os.chmod(root, 0o755)
        gen = _make_pkg(root)
        pkg = next(gen)
        os.chmod(pkg.root / "nb.ipynb", 0o644)
        assert pkg.cli("--run-id", "as-root").returncode == 0  # runs/ and store/ owned by root

        def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
            env = pkg.env()
            env["HOME"] = str(root)
            return subprocess.run(
                [
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    *pkg.command(*args),
                ],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )

        refused = as_nobody("--run-id", "nobody")
        assert refused.returncode == 2, refused.stderr
        one_line(refused.stderr)
        assert "Permission denied" in refused.stderr and str(pkg.runs) in refused.stderr
        assert not (pkg.runs / "nobody").exists()
        # A runs dir of its own, the shared store read-only: cached steps are fine, a new
        # result cannot be stored.
        own = root / "own-runs"
        own.mkdir()
        os.chown(own, 65534, 65534)
        cached = as_nobody("--runs-dir", str(own), "--store", str(pkg.store), "--run-id", "c")
        assert cached.returncode == 0, cached.stderr
        new = as_nobody(
            "--runs-dir", str(own), "--store", str(pkg.store), "--run-id", "n", "-p", "n=10"
        )
        assert new.returncode == 1, new.stderr
        assert "Permission denied" in new.stderr and "Traceback" not in new.stderr
        check_store(pkg.store, orphans_allowed=False)
        check_next_run_is_correct(pkg)
        next(gen, None)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- corrupted records ----------------------------------------------------------------------

CORRUPTIONS = {
    "garbage": b"\x00\xff\xfe garbage \x80",
    "empty": b"",
    "truncated": None,  # the first half of the real record
    "null": b"null",
    "list": b"[]",
    "steps-a-list": b'{"steps": [], "status": "ok"}',
    "step-a-string": b'{"steps": {"make": "ok"}, "status": "ok", "pipeline": 5}',
    "wrong-types": b'{"steps": {"make": {"status": 1, "outputs": "x", "inputs": [1]}},'
    b' "status": [], "start": 7, "parameters": "p", "metrics": [1], "run_id": {"a": 1}}',
    "deep": b'{"steps": {}, "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "huge-number": b'{"steps": {}, "start": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupted_run_record(pkg: Pkg, kind: str) -> None:
    assert pkg.main("-q", "--run-id", "good") == 0
    assert pkg.main("-q", "--run-id", "bad", "-p", "scale=3") == 0
    bad = pkg.runs / "bad" / "run.json"
    data = CORRUPTIONS[kind]
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2] if data is None else data)
    runner = CliRunner()
    where = ["--runs-dir", str(pkg.runs)]
    for args in (
        ["runs", "list", *where],
        ["runs", "list", "--json", *where],
        ["runs", "show", "good", *where],
        ["runs", "show", "latest", *where],
        ["runs", "show", "bad", *where],
        ["runs", "show", str(pkg.runs / "bad"), *where],
        ["runs", "compare", "good", "bad", *where],
        ["runs", "gc", "--keep", "5", "--dry-run", *where],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 2), (args, result.stderr)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr, (
            args,
            result.stderr,
        )
        if result.exit_code == 2:
            one_line(result.stderr)
    gc = runner.invoke(app, ["runs", "gc", "--keep", "1", *where])
    assert gc.exit_code == 0, gc.stderr
    check_store(pkg.store)
    record = check_next_run_is_correct(pkg)
    assert set(statuses(record).values()) <= {"cached", "ok"}


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("entries-garbage", b"\x00garbage"),
        ("entries-truncated", b'{"outputs": {"big": {"hash": "ab'),
        ("entries-wrong-shape", b'{"outputs": {"big": "x"}, "metrics": [1], "components": 5}'),
        (
            "entries-traversal",
            b'{"outputs": {"big": {"hash": "../../../../etc/passwd",'
            b' "format": "json", "size": 1}, "small": {"hash": "' + b"0" * 64 + b'", "format":'
            b' "../x", "size": 1}}}',
        ),
        ("files-list", b"[]"),
        ("files-garbage", b"\xff"),
        ("store-marker", b"\x00"),
    ],
)
def test_corrupted_store_files(pkg: Pkg, kind: str, content: bytes) -> None:
    (pkg.root / "data.csv").write_text("a,b\n1,2\n")
    assert pkg.main("-q", "--run-id", "first") == 0
    if kind.startswith("entries"):
        targets = list((pkg.store / "steps").glob("*/*.json"))
    elif kind.startswith("files"):
        targets = [pkg.store / "files.json"]
    else:
        targets = [pkg.store / "STORE"]
    for target in targets:
        target.write_bytes(content)
    record = check_next_run_is_correct(pkg)
    if kind.startswith("entries"):
        assert record["steps"]["make"]["status"] == "ok"  # recomputed, not trusted


def test_truncated_or_swapped_artifact_is_recomputed(pkg: Pkg) -> None:
    """An object cut short (a disk that lied) and one whose bytes were replaced by another
    object of the same size: neither is used; the run that meets it fails naming it and
    the next run recomputes it."""
    assert pkg.main("-q", "--run-id", "first") == 0
    objects = sorted((pkg.store / "objects").glob("*/*.json"), key=lambda p: p.stat().st_size)
    biggest = objects[-1]
    biggest.write_bytes(biggest.read_bytes()[:-10])
    assert pkg.main("-q", "--run-id", "second") in (0, 1)
    check_store(pkg.store)
    check_next_run_is_correct(pkg)


# --- two runs at once --------------------------------------------------------------------


@pytest.mark.integration
def test_two_runs_at_once_with_the_same_run_id(pkg: Pkg) -> None:
    procs = [pkg.popen("--run-id", "same") for _ in range(2)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    err = next(e for c, e in results if c == 2)
    one_line(err)
    assert "already exists" in err
    assert json.loads((pkg.runs / "same" / "run.json").read_text())["status"] == "ok"
    check_store(pkg.store)


@pytest.mark.integration
def test_two_runs_at_once_writing_the_same_artifacts(pkg: Pkg) -> None:
    """Both write the same objects (same content, same names) and cache entries; both
    succeed, the store stays whole, and a third run is served from the cache."""
    procs = [pkg.popen("--run-id", f"r{i}", "-j", str(i + 1)) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    check_store(pkg.store)
    third = pkg.run(run_id="third")
    assert third.ok and set(statuses({"steps": third.steps}).values()) == {"cached"}
    assert third.metrics["total"] == expected_total()


@pytest.mark.integration
def test_gc_during_a_run_keeps_what_the_run_uses(pkg: Pkg) -> None:
    """`runs gc --keep 0` while a run is in progress must not remove the objects that
    run reuses from an older run (a content-addressed hit writes nothing new)."""
    assert pkg.cli("--run-id", "old").returncode == 0
    an_hour_ago = time.time() - 3600
    for obj in (pkg.store / "objects").glob("*/*"):
        os.utime(obj, (an_hour_ago, an_hour_ago))  # made long before the new run started
    flag = pkg.root / "writing"
    # The new run recomputes everything (--force) and finds its objects already stored;
    # its cache entry writes are slowed so gc runs before it records them.
    proc = pkg.popen(
        "--run-id",
        "new",
        "--force",
        **{ENV_MATCH: "/steps/", ENV_MODE: "slow", ENV_FLAG: str(flag)},
    )
    wait_for(flag, proc)
    gc = CliRunner().invoke(app, ["runs", "gc", "--keep", "0", "--runs-dir", str(pkg.runs)])
    assert gc.exit_code == 0, gc.stderr
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    check_store(pkg.store)
    check_next_run_is_correct(pkg)
