"""The local, file-based registry: versions, the champion pointer, identical models,
concurrent registration, loading, and names that could escape the folder."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from nb2pipe.mlops.registry import (
    CHAMPION,
    Candidate,
    ModelVersion,
    RegistryError,
    open_registry,
    parse_ref,
)
from nb2pipe.mlops.registry.local import LocalRegistry
from nb2pipe.runtime import formats
from nb2pipe.runtime.store import LocalStore


def candidate(store: LocalStore, name: str, value: object, **meta: object) -> Candidate:
    ref = store.save(value)
    mv = ModelVersion(name=name, version=0, run_id="run", artifact=ref.to_json(), **meta)  # type: ignore[arg-type]
    reference = {"schema": 1, "features": {"x": {"kind": "numeric"}}}
    return Candidate(meta=mv, artifact_path=store.path(ref), profile=lambda: reference)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def test_register_versions_and_champion(tmp_path: Path, store: LocalStore) -> None:
    reg = LocalRegistry(tmp_path / "registry")
    assert reg.models() == []
    one = reg.register(candidate(store, "wine", {"w": 1}, metrics={"acc": 0.9}))
    assert (one.new, one.version.version, one.version.aliases) == (True, 1, [CHAMPION])
    two = reg.register(candidate(store, "wine", {"w": 2}, metrics={"acc": 0.95}))
    assert (two.new, two.version.version) == (True, 2)
    assert reg.models() == ["wine"]
    assert [v.version for v in reg.versions("wine")] == [1, 2]
    assert reg.get("wine").version == 2
    assert reg.get("wine", CHAMPION).metrics == {"acc": 0.95}
    assert reg.get("wine", 1).aliases == []
    assert reg.load(reg.get("wine")) == {"w": 2}
    assert reg.load(reg.get("wine", 1)) == {"w": 1}
    assert reg.reference(reg.get("wine", 1)) == {
        "schema": 1,
        "features": {"x": {"kind": "numeric"}},
    }
    assert reg.get("wine", 1).reference == ["x"]


def test_the_same_model_adds_no_version_and_becomes_champion(
    tmp_path: Path, store: LocalStore
) -> None:
    reg = LocalRegistry(tmp_path / "registry")
    reg.register(candidate(store, "m", [1, 2]))
    reg.register(candidate(store, "m", [3]))
    again = reg.register(candidate(store, "m", [1, 2]))
    assert (again.new, again.version.version) == (False, 1)
    assert reg.get("m").version == 1  # the run's model is the current one again
    assert len(reg.versions("m")) == 2


def test_promote_and_unknown_versions(tmp_path: Path, store: LocalStore) -> None:
    reg = LocalRegistry(tmp_path / "registry")
    reg.register(candidate(store, "m", 1))
    reg.register(candidate(store, "m", 2))
    reg.set_alias("m", CHAMPION, 1)
    assert reg.get("m").version == 1
    with pytest.raises(RegistryError, match="no version 7"):
        reg.get("m", 7)
    with pytest.raises(RegistryError, match="no version 7"):
        reg.set_alias("m", CHAMPION, 7)
    with pytest.raises(RegistryError, match="no version called 'staging'"):
        reg.get("m", "staging")
    with pytest.raises(RegistryError, match="no model 'other'"):
        reg.get("other")


def test_the_registry_keeps_its_own_copy(tmp_path: Path, store: LocalStore) -> None:
    reg = LocalRegistry(tmp_path / "registry")
    c = candidate(store, "m", {"big": list(range(100))})
    reg.register(c)
    c.artifact_path.unlink()  # e.g. runs gc removed it from the store
    assert reg.load(reg.get("m")) == {"big": list(range(100))}


def test_a_corrupted_model_is_refused(tmp_path: Path, store: LocalStore) -> None:
    reg = LocalRegistry(tmp_path / "registry")
    mv = reg.register(candidate(store, "m", {"a": 1})).version
    path = tmp_path / "registry" / "m" / "artifacts" / f"{mv.artifact['hash']}.json"
    path.chmod(0o644)
    path.write_bytes(b'{"a": 2}')
    with pytest.raises(RegistryError, match="does not match its hash"):
        reg.load(reg.get("m"))


def test_concurrent_registrations_get_distinct_numbers(tmp_path: Path, store: LocalStore) -> None:
    cands = [candidate(store, "m", {"i": i}) for i in range(8)]
    errors: list[BaseException] = []

    def work(c: Candidate) -> None:
        try:
            LocalRegistry(tmp_path / "registry").register(c)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in cands]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    versions = LocalRegistry(tmp_path / "registry").versions("m")
    assert sorted(v.version for v in versions) == list(range(1, 9))
    assert len({v.artifact["hash"] for v in versions}) == 8


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "1abc", "a b", "wine:3:4", "x" * 200])
def test_names_are_identifiers(bad: str) -> None:
    with pytest.raises(RegistryError):
        parse_ref(bad)


def test_parse_ref() -> None:
    assert parse_ref("wine") == ("wine", None)
    assert parse_ref("wine:3") == ("wine", 3)
    assert parse_ref("wine:champion") == ("wine", "champion")


def test_open_registry_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NB2PIPE_REGISTRY", raising=False)
    monkeypatch.delenv("NB2PIPE_TRACKING", raising=False)
    reg = open_registry(runs_dir=tmp_path / "runs")
    assert isinstance(reg, LocalRegistry) and reg.root == (tmp_path / "runs" / "registry")
    monkeypatch.setenv("NB2PIPE_REGISTRY", str(tmp_path / "elsewhere"))
    assert open_registry().root == tmp_path / "elsewhere"  # type: ignore[attr-defined]
    monkeypatch.setenv("NB2PIPE_TRACKING", "nope")
    with pytest.raises(Exception, match="unknown tracking backend 'nope'"):
        open_registry()


def test_formats_round_trip_through_the_registry(tmp_path: Path, store: LocalStore) -> None:
    import numpy as np

    reg = LocalRegistry(tmp_path / "registry")
    arr = np.arange(6.0).reshape(2, 3)
    mv = reg.register(candidate(store, "arr", arr)).version
    assert mv.artifact["format"] == "npy" and "npy" in formats.FORMATS
    assert (reg.load(mv) == arr).all()
