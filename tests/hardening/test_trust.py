"""The trust model (README, "Trust model") and the output side of `convert`:

- an artifact is unpickled only after its bytes match the digest it is named by: a
  planted pickle, even one padded to the size of the real object, never runs;
- `convert` writes a new package aside and moves it into place whole, and replaces the
  files of an existing one each atomically: a full disk or a read-only folder is one line
  and nothing changed, a SIGKILL at any moment leaves every file old or new (never half
  written) and the next convert finishes the job, and the package gets ordinary
  permissions.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hardening_helpers import write_notebook
from typer.testing import CliRunner

from nb2pipe import api
from nb2pipe.codegen import writeplan
from nb2pipe.frontends.cli import app
from nb2pipe.runtime import run
from nb2pipe.runtime.errors import CorruptArtifact


class _Payload:
    """Unpickling this creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def test_a_planted_pickle_is_never_unpickled(tmp_path: Path) -> None:
    cells = [
        ("parameters", "k = 1"),
        ("step:make", "s = set(range(200))"),
        ("step:use", "total = sum(s) * k"),
    ]
    path = write_notebook(tmp_path / "nb.ipynb", cells)
    api.convert(path, tmp_path / "trustpkg")
    sys.path.insert(0, str(tmp_path))
    try:
        pipeline = importlib.import_module("trustpkg.pipeline").PIPELINE
        first = run(pipeline, runs_dir=tmp_path / "runs", progress="none")
        assert first.ok and first.outputs["make"]["s"].format == "joblib"
        obj = (
            tmp_path
            / "runs"
            / "store"
            / "objects"
            / first.outputs["make"]["s"].hash[:2]
            / (first.outputs["make"]["s"].hash + ".joblib")
        )
        marker = tmp_path / "PWNED"
        evil = pickle.dumps(_Payload(marker), protocol=2)
        size = obj.stat().st_size
        assert len(evil) < size
        obj.write_bytes(evil + b"\x00" * (size - len(evil)))  # same name, same size
        # The cache trusts names and sizes: nothing is read, nothing runs.
        cached = run(pipeline, runs_dir=tmp_path / "runs", progress="none")
        assert cached.ok and not marker.exists()
        # Reading it back checks the hash first.
        with pytest.raises(CorruptArtifact):
            cached.load("make", "s")
        assert not marker.exists()
        obj.write_bytes(evil + b"\x00" * (size - len(evil)))  # planted again
        # A step that needs it fails, naming it; it is moved aside, never unpickled.
        needs = run(pipeline, runs_dir=tmp_path / "runs", progress="none", params={"k": 2})
        assert needs.status == "failed" and not marker.exists()
        assert "corrupted" in needs.steps["use"]["error"]["message"]
        assert not obj.exists() and list(obj.parent.glob("*.corrupt"))
        # The next run recomputes it.
        again = run(pipeline, runs_dir=tmp_path / "runs", progress="none", params={"k": 2})
        assert again.ok and again.load("use", "total") == sum(range(200)) * 2
        assert not marker.exists()
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m.startswith("trustpkg")]:
            del sys.modules[mod]


# --- convert: output written whole ----------------------------------------------------------


def _convert(path: Path, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["convert", str(path), "-o", str(out), *args])
    return result.exit_code, result.stderr


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_package_has_ordinary_permissions(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1")])
    old = os.umask(0o022)
    try:
        assert _convert(path, tmp_path / "pkg")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "pkg").stat().st_mode) == 0o755  # mkdtemp made it 0700
    assert stat.S_IMODE((tmp_path / "pkg" / "pipeline.py").stat().st_mode) == 0o644


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
def test_disk_full_or_read_only_while_writing_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1"), ("step:b", "y = x")])
    out = tmp_path / "out" / "pkg"
    assert _convert(path, out)[0] == 0
    before = _files(out)
    path.write_text(path.read_text().replace("x = 1", "x = 2"))
    real_write, real_new = Path.write_text, writeplan.write_new

    def failing(self: Path, *args: Any, **kwargs: Any) -> int:  # a new package, built aside
        if ".nb2pipe-" in str(self) and self.name == "pipeline.py":
            raise OSError(code, os.strerror(code), str(self))
        return real_write(self, *args, **kwargs)

    def failing_new(tmp: Path, text: str, **kwargs: Any) -> None:  # replacing in place
        if tmp.name.startswith(".pipeline.py."):
            raise OSError(code, os.strerror(code), str(tmp))
        real_new(tmp, text, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing)
    monkeypatch.setattr(writeplan, "write_new", failing_new)
    status, err = _convert(path, out)
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert os.strerror(code) in err and "internal error" not in err
    assert _files(out) == before  # the old package, untouched (its manifest too)
    assert sorted(os.listdir(out.parent)) == ["pkg"]  # no staging folder left
    # With a parent to create, nothing at all is left behind.
    status, err = _convert(path, tmp_path / "new" / "deeper" / "pkg")
    assert status == 2 and not (tmp_path / "new").exists()


def test_cannot_create_the_staging_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1")])

    def read_only(*args: Any, **kwargs: Any) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    status, err = _convert(path, tmp_path / "a" / "b" / "pkg")
    assert status == 2 and err.count("\n") == 1 and "Read-only file system" in err
    assert sorted(os.listdir(tmp_path)) == ["nb.ipynb"]


@pytest.mark.integration
def test_sigkill_during_convert_leaves_each_file_old_or_new(tmp_path: Path) -> None:
    """Killed at moments spread over a whole convert (measured first, as this machine's
    speed varies), each time from the old package: every file is its old or its new text,
    or the journal; the next convert finishes the change."""

    def cells(value: int) -> list:
        return [(f"step:s{i}", f"x{i} = {value} + {i}") for i in range(400)]

    nb = write_notebook(tmp_path / "nb.ipynb", cells(1))
    out, base = tmp_path / "pkg", tmp_path / "base"
    assert _convert(nb, base)[0] == 0
    old = _files(base)
    write_notebook(nb, cells(2))
    command = [str(Path(sys.executable).with_name("nb2pipe")), "convert", str(nb), "-o", str(out)]
    shutil.copytree(base, out)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    whole = time.perf_counter() - start
    new = _files(out)
    seen = []
    for fraction in (0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0):
        shutil.rmtree(out)
        shutil.copytree(base, out)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
        time.sleep(whole * fraction)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        seen.append(_files(out))
    assert new != old and not [rel for rel in new if rel.endswith(".nb2pipe-tmp")]
    for files in seen:
        for rel, data in files.items():
            if rel.endswith(".nb2pipe-tmp"):
                continue  # a temporary file the next convert removes
            if rel == writeplan.MANIFEST and data not in (old[rel], new[rel]):
                _assert_journal(data, old, new)  # killed between the journal and the manifest
                continue
            assert data in (old.get(rel), new.get(rel)), rel  # never half written
    subprocess.run(command, check=True, capture_output=True)  # after the last kill
    assert _files(out) == new


def _assert_journal(data: bytes, old: dict[str, bytes], new: dict[str, bytes]) -> None:
    """`data` is a whole journal of the convert from `old` to `new`: the old files'
    hashes, and for each file being written its new text's hash and a temporary name."""
    journal = json.loads(data)
    assert journal["files"].items() <= json.loads(old[writeplan.MANIFEST])["files"].items()
    assert journal["writing"]
    for rel, tmp, digest in journal["writing"]:
        assert tmp.endswith(".nb2pipe-tmp") and digest == hashlib.sha256(new[rel]).hexdigest()


@pytest.mark.integration
def test_two_converts_at_once_to_the_same_folder(tmp_path: Path) -> None:
    """Each either succeeds or fails in one line; the folder always holds one whole
    package (the one the last successful convert wrote)."""
    exe = Path(sys.executable).with_name("nb2pipe")
    packages = {}
    for v in (1, 2):
        nb = write_notebook(
            tmp_path / f"nb{v}.ipynb", [(f"step:s{i}", f"x{i} = {v}") for i in range(60)]
        )
        assert _convert(nb, tmp_path / "pkg")[0] == 0
        packages[v] = _files(tmp_path / "pkg")
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [
                    str(exe),
                    "convert",
                    str(tmp_path / f"nb{v}.ipynb"),
                    "-o",
                    str(tmp_path / "pkg"),
                    "-q",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for v in (1, 2)
        ]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode in (0, 2), err
            assert err.count("\n") <= 1 and "Traceback" not in err, err
        assert _files(tmp_path / "pkg") in packages.values()
