"""The content-addressed store: atomic writes, hashes checked on every load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
