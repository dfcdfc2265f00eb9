"""The fsspec artifact store: the LocalStore's contract on URLs, without renames."""

from __future__ import annotations

import builtins
import uuid

import pytest

from nb2pipe.runtime import UsageError
from nb2pipe.runtime.errors import CorruptArtifact
from nb2pipe.runtime.fsstore import FsspecStore
from nb2pipe.runtime.store import ArtifactRef, LocalStore, is_url, open_store


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path) -> FsspecStore:
    if request.param == "memory":
        return FsspecStore(f"memory://nb2pipe-tests/{uuid.uuid4().hex}")
    return FsspecStore(f"file://{tmp_path / 'store'}")


def test_values_round_trip_in_the_same_formats_as_locally(store, tmp_path):
    import numpy as np
    import pandas as pd

    values = [
        {"a": [1, 2.5, None, "x"]},
        np.arange(6).reshape(2, 3),
        pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}),
        (1, 2),  # a tuple: not JSON (it would read back as a list)
    ]
    local = LocalStore(tmp_path / "local")
    for value in values:
        ref = store.save(value)
        assert ref == local.save(value)  # same bytes, same hash, same format
        assert store.exists(ref)
        back = store.load(ref)
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(back, value)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(back, value)
        else:
            assert back == value and type(back) is type(value)
    assert store.save(values[0]) == store.save(values[0])  # content-addressed: written once


def test_a_torn_or_corrupted_object_is_never_read_as_the_real_thing(store):
    ref = store.save({"k": "v" * 100})
    path = store.path(ref)
    store.fs.pipe_file(path, b'{"k": "')  # torn: a writer died half-way
    assert not store.exists(ref)  # the size tells: the next writer writes it again
    assert store.save({"k": "v" * 100}) == ref and store.exists(ref)
    data = store.fs.cat_file(path)
    store.fs.pipe_file(path, data[:-3] + b'x"}')  # same size, other bytes
    with pytest.raises(CorruptArtifact, match="corrupted"):
        store.load(ref)
    assert not store.fs.exists(path)  # removed: no rename on object stores
    missing = ArtifactRef("0" * 64, "json", 3)
    with pytest.raises(CorruptArtifact, match="missing"):
        store.load(missing)
    assert not store.exists(missing)
    with pytest.raises(ValueError):
        store.path(ArtifactRef("../../etc", "json", 1))


def test_the_cache_index_and_manifests(store):
    assert store.get_entry("p", "s", "k1") is None and store.latest_entry("p", "s") is None
    store.put_entry("p", "s", "k1", {"outputs": {}, "run_id": "r"})
    assert store.get_entry("p", "s", "k1") == {"outputs": {}, "run_id": "r"}
    assert store.latest_entry("p", "s")["key"] == "k1"
    store.write_json("runs/r/steps/s.json", {"status": "ok"})
    assert store.read_json("runs/r/steps/s.json") == {"status": "ok"}
    assert store.read_json("runs/r/steps/none.json") is None
    store.mark()
    store.mark()
    assert store.fs.cat_file(f"{store.root}/STORE").startswith(b"nb2pipe artifact store")
    assert not [p for p in store.fs.find(store.root) if p.endswith(".tmp")]
    assert store._renames == store.url.startswith("file://")  # written aside, then renamed


def test_open_store_chooses_by_location(tmp_path):
    assert isinstance(open_store(str(tmp_path / "s")), LocalStore)
    assert isinstance(open_store(f"file://{tmp_path / 's'}"), FsspecStore)
    assert isinstance(open_store("memory://x/y"), FsspecStore)
    assert is_url("s3://bucket/prefix") and not is_url("/data/store") and not is_url("C:\\x")
    with pytest.raises(UsageError, match="cannot open the store"):
        open_store("nosuchprotocol-xyz://bucket/prefix")


def test_without_fsspec_a_url_is_a_clear_error_and_paths_still_work(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_fsspec(name, *args, **kwargs):
        if name == "fsspec" or name.startswith("fsspec."):
            raise ImportError("No module named 'fsspec'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fsspec)
    with pytest.raises(UsageError, match=r"nb2pipe-runtime\[remote\]"):
        open_store("s3://bucket/prefix")
    assert isinstance(open_store(str(tmp_path)), LocalStore)


def test_the_runtime_does_not_import_fsspec_for_local_runs():
    import subprocess
    import sys

    code = (
        "import sys, nb2pipe.runtime, nb2pipe.runtime.remote, nb2pipe.runtime.fsstore;"
        "print('fsspec' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
