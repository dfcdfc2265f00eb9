"""The content-addressed store: atomic writes, hashes checked on every load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from runtime_helpers import S

from nb2pipe.runtime.errors import CorruptArtifact
from nb2pipe.runtime.store import ArtifactRef, LocalStore


def test_save_load_exists(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    ref = store.save({"a": 1})
    assert ref.format == "json" and store.exists(ref)
    assert store.load(ref) == {"a": 1}
    assert store.save({"a": 1}) == ref  # content-addressed: same value, same artifact
    path = store.path(ref)
    assert path.name == f"{ref.hash}.json" and path.parent.name == ref.hash[:2]
    assert not list(path.parent.glob("*.tmp"))
    missing = ArtifactRef("0" * 64, "json", 3)
    assert not store.exists(missing)
    with pytest.raises(CorruptArtifact, match="missing"):
        store.load(missing)


@pytest.mark.parametrize("value", [{"x": 1}, np.arange(5), pd.DataFrame({"a": [1, 2]}), (1, 2)])
def test_corruption_is_detected_and_moved_aside(tmp_path: Path, value: object) -> None:
    store = LocalStore(tmp_path)
    ref = store.save(value)
    path = store.path(ref)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifact) as info:
        store.load(ref)
    assert str(path) in str(info.value) and "corrupted" in str(info.value)
    assert not path.exists() and list(path.parent.glob("*.corrupt"))
    assert not store.exists(ref)  # so the producing step's cache entry no longer hits
    store.save(value)
    assert store.exists(ref)


def test_truncated_artifact_is_not_trusted(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    ref = store.save(list(range(100)))
    store.path(ref).write_bytes(store.path(ref).read_bytes()[:10])
    assert not store.exists(ref)  # size differs
    store.save(list(range(100)))  # rewritten, not skipped
    assert store.load(ref) == list(range(100))


def test_cache_entries(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.get_entry("p", "s", "k") is None and store.latest_entry("p", "s") is None
    store.put_entry("p", "s", "k", {"outputs": {}})
    assert store.get_entry("p", "s", "k") == {"outputs": {}}
    assert store.latest_entry("p", "s") == {"outputs": {}, "key": "k"}
    (tmp_path / "steps" / "p" / "s.k2.json").write_text("{truncated")
    assert store.get_entry("p", "s", "k2") is None  # unreadable entry: a miss


def test_refs_are_validated(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(ValueError):
        store.path(ArtifactRef("../../etc/passwd", "json", 1))
    with pytest.raises(ValueError):
        store.path(ArtifactRef("0" * 64, "exe", 1))


def _v1_object(root: Path, fmt: str, data: bytes) -> ArtifactRef:
    """An artifact as stores before v2 wrote it: named by the sha256 of its bytes."""
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    path = root / "objects" / digest[:2] / f"{digest}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ArtifactRef(digest, fmt, len(data))


def test_stores_written_before_v2_are_still_read(tmp_path: Path) -> None:
    import io
    import json

    import joblib
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"a": [1.5, 2.5], "s": ["x", "y"]}, index=pd.Index([3, 4], name="i"))
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame), buf)  # what the v1 store wrote for frames
    pickled = io.BytesIO()
    joblib.dump({"model": (1, 2)}, pickled)
    npy = io.BytesIO()
    np.save(npy, np.arange(4))
    refs = {
        "parquet": _v1_object(tmp_path, "parquet", buf.getvalue()),
        "json": _v1_object(tmp_path, "json", json.dumps({"k": [1, 2]}).encode()),
        "joblib": _v1_object(tmp_path, "joblib", pickled.getvalue()),
        "npy": _v1_object(tmp_path, "npy", npy.getvalue()),
    }
    (tmp_path / "STORE").write_text("nb2pipe artifact store v1\n")
    store = LocalStore(tmp_path)
    pd.testing.assert_frame_equal(store.load(refs["parquet"]), frame)
    assert store.load(refs["json"]) == {"k": [1, 2]}
    assert store.load(refs["joblib"]) == {"model": (1, 2)}
    np.testing.assert_array_equal(store.load(refs["npy"]), np.arange(4))
    assert store.read_bytes(refs["json"]) == json.dumps({"k": [1, 2]}).encode()
    store.mark()  # the marker records the new layout and its digest
    assert (tmp_path / "STORE").read_text().startswith("nb2pipe artifact store v3\ndigest: xxh3")
    bad = store.path(refs["joblib"])
    bad.write_bytes(bad.read_bytes()[:-1] + b"\x00")  # sha256 still checked: never unpickled
    with pytest.raises(CorruptArtifact, match="corrupted"):
        store.load(refs["joblib"])


def test_a_pipeline_reads_a_step_result_from_a_v1_store(make_pkg: Any) -> None:
    """--only takes a step's input from its latest result; an entry a v1 store holds
    (sha256 refs, Parquet) serves as it did."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    pkg = make_pkg(
        [
            S("a", "df = None", outputs=("df",)),
            S("b", "total = float(df['v'].sum())", inputs={"df": "a"}, outputs=("total",)),
        ]
    )
    store = pkg.runs / "store"
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(pd.DataFrame({"v": [1.0, 2.0]})), buf)
    ref = _v1_object(store, "parquet", buf.getvalue())
    entry = {"outputs": {"df": ref.to_json()}, "metrics": {}, "run_id": "old", "key": "k" * 64}
    folder = store / "steps" / pkg.name
    folder.mkdir(parents=True)
    (folder / "a.latest.json").write_text(json.dumps(entry))
    (store / "STORE").write_text("nb2pipe artifact store v1\n")
    r = pkg.run(only=["b"])
    assert r.ok, r.error
    assert r.load("b", "total") == 3.0 and r.steps["a"]["cached_from"] == "old"
    assert r.steps["b"]["inputs"]["df"]["hash"] == ref.hash
