"""The artifact store: one content-addressed folder shared by every run.

Layout (``<runs-dir>/store`` by default)::

    objects/<h[:2]>/<sha256>.<json|npy|parquet|joblib>   artifacts, named by their hash
    steps/<pipeline>/<step>.<cache key>.json             cache entries: the outputs' hashes
    steps/<pipeline>/<step>.latest.json                  the step's latest successful entry
    files.json                                           remembered hashes of data files
    STORE                                                layout version

Every file is written to a temporary name and renamed into place, so a killed run leaves
at worst an orphan ``.tmp`` file, never a truncated artifact or entry. An artifact is
checked against its name when read; one that does not match is moved aside
(``*.corrupt``) and reported, so the next run recomputes it.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from nb2pipe.runtime import formats
from nb2pipe.runtime.errors import CorruptArtifact
from nb2pipe.runtime.fsutil import atomic_write_bytes, atomic_write_json, read_json
from nb2pipe.runtime.hashing import sha256_bytes

STORE_VERSION = 1
#: the parts of a cache entry's key that are mappings (read by cache.explain)
_COMPONENT_MAPS = ("common", "params", "inputs", "distributions", "files")
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ArtifactRef:
    """Where a value lives: its sha256 (of the stored bytes), format and size in bytes."""

    hash: str
    format: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactRef:
        return cls(hash=str(data["hash"]), format=str(data["format"]), size=int(data["size"]))


class ArtifactStore(Protocol):
    """What the runner needs from storage (Kedro's load/save/exists)."""

    def save(self, value: Any) -> ArtifactRef: ...

    def load(self, ref: ArtifactRef) -> Any: ...

    def exists(self, ref: ArtifactRef) -> bool: ...


class CacheIndex(Protocol):
    """Which outputs a step produced for a given cache key."""

    def get_entry(self, pipeline: str, step: str, key: str) -> dict[str, Any] | None: ...

    def put_entry(self, pipeline: str, step: str, key: str, entry: dict[str, Any]) -> None: ...

    def latest_entry(self, pipeline: str, step: str) -> dict[str, Any] | None: ...


class LocalStore:
    """Filesystem implementation of :class:`ArtifactStore` and :class:`CacheIndex`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.objects = self.root / "objects"

    # -- artifacts ------------------------------------------------------------------------

    def path(self, ref: ArtifactRef) -> Path:
        if not _HASH.fullmatch(ref.hash) or ref.format not in formats.FORMATS:
            raise ValueError(f"not an artifact reference: {ref}")
        return self.objects / ref.hash[:2] / f"{ref.hash}.{ref.format}"

    def save(self, value: Any) -> ArtifactRef:
        fmt, data = formats.encode(value)
        return self.save_bytes(fmt, data)

    def save_bytes(self, fmt: str, data: bytes) -> ArtifactRef:
        ref = ArtifactRef(sha256_bytes(data), fmt, len(data))
        target = self.path(ref)
        try:
            if target.stat().st_size == ref.size:
                _touch(target)  # reused: fresh again, so `runs gc` spares it (see _touch)
                return ref  # same content already stored (content-addressed)
        except OSError:
            pass
        atomic_write_bytes(target, data)
        return ref

    def exists(self, ref: ArtifactRef) -> bool:
        try:
            return self.path(ref).stat().st_size == ref.size
        except (OSError, ValueError):
            return False

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        """The artifact's bytes, checked against its hash."""
        path = self.path(ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptArtifact(
                f"artifact {path} is missing", path=str(path), expected=ref.hash, actual=None
            ) from None
        actual = sha256_bytes(data)
        if actual != ref.hash:
            aside = path.with_name(f"{path.name}.{int(time.time())}.corrupt")
            try:
                os.replace(path, aside)
            except OSError:
                aside = path
            raise CorruptArtifact(
                f"artifact {path} is corrupted (sha256 {actual[:12]}..., expected "
                f"{ref.hash[:12]}...); moved aside to {aside.name}, the next run recomputes it",
                path=str(path),
                expected=ref.hash,
                actual=actual,
            )
        return data

    def load(self, ref: ArtifactRef) -> Any:
        data = self.read_bytes(ref)
        try:
            return formats.decode(data, ref.format)
        except Exception as exc:  # noqa: BLE001 - right hash, unreadable: say which file
            path = self.path(ref)
            raise CorruptArtifact(
                f"artifact {path} cannot be read back: {type(exc).__name__}: {exc}",
                path=str(path),
                expected=ref.hash,
                actual=ref.hash,
            ) from exc

    # -- cache index ----------------------------------------------------------------------

    def _entry(self, pipeline: str, step: str, key: str) -> Path:
        return self.root / "steps" / pipeline / f"{step}.{key}.json"

    def get_entry(self, pipeline: str, step: str, key: str) -> dict[str, Any] | None:
        return well_formed(read_json(self._entry(pipeline, step, key)))

    def put_entry(self, pipeline: str, step: str, key: str, entry: dict[str, Any]) -> None:
        atomic_write_json(self._entry(pipeline, step, key), entry, indent=None)
        atomic_write_json(self._entry(pipeline, step, "latest"), {**entry, "key": key}, indent=None)

    def latest_entry(self, pipeline: str, step: str) -> dict[str, Any] | None:
        return well_formed(read_json(self._entry(pipeline, step, "latest")))

    def file_cache(self) -> Path:
        return self.root / "files.json"

    def mark(self) -> None:
        """Record the store's layout version once (for future migrations)."""
        marker = self.root / "STORE"
        if not marker.exists():
            atomic_write_bytes(marker, f"nb2pipe artifact store v{STORE_VERSION}\n".encode())


def _touch(path: Path) -> None:
    """Mark an object a running run reuses as recent: `runs gc` removes only objects
    older than the oldest running run, and a reused object is not yet in any record."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only store: nothing can remove the object either


def well_formed(entry: Any) -> dict[str, Any] | None:
    """A cache entry of the expected shape, else None (recompute): entries are written
    atomically, so a bad one was damaged or hand-edited, and is not to be trusted."""
    if not isinstance(entry, dict) or not isinstance(entry.get("outputs"), dict):
        return None
    if not all(isinstance(ref, dict) for ref in entry["outputs"].values()):
        return None
    for field in ("metrics", "components"):
        if field in entry and not isinstance(entry[field], dict):
            return None
    parts = entry.get("components") or {}
    if not all(isinstance(parts.get(f) or {}, dict) for f in _COMPONENT_MAPS):
        return None
    if not isinstance(entry.get("run_id", ""), str | None):
        return None
    return entry
