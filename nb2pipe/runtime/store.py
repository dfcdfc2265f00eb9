"""The artifact store: one content-addressed folder shared by every run.

Layout (``<runs-dir>/store`` by default)::

    objects/<h[:2]>/<digest>.<json|npy|arrow|joblib|...>   artifacts, named by the digest
                                                           of their bytes
    objects/tmp/                                          files being written
    steps/<pipeline>/<step>.<cache key>.json              cache entries: the outputs' refs
    steps/<pipeline>/<step>.latest.json                   the step's latest successful entry
    files.json                                            remembered digests of data files
    STORE                                                 layout version and digest

Digests are xxh3-128 (32 hex digits); stores written before version 2 hold sha256 names
(64 hex digits, Parquet for frames), which are still read and checked. Every file is
written under ``objects/tmp`` and renamed into place once its digest is known, so a
killed run leaves at worst an orphan there, never a truncated artifact or entry. An
artifact is checked against its name when read; one that does not match is moved aside
(``*.corrupt``) and reported, so the next run recomputes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nb2pipe.runtime import formats, fsutil
from nb2pipe.runtime.errors import CorruptArtifact
from nb2pipe.runtime.fsutil import atomic_write_bytes, atomic_write_json, read_json
from nb2pipe.runtime.hashing import (
    DIGEST,
    digest_algorithm,
    digest_bytes,
    digest_file,
    new_hasher,
)

STORE_VERSION = 3  # 3: content digests by column values, not memory layout
#: the parts of a cache entry's key that are mappings (read by cache.explain)
_COMPONENT_MAPS = ("common", "params", "inputs", "distributions", "files")
_HASH = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{64})$")
_FORMAT = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
DATA_FORMATS = ("npy", "arrow")  # named in cache keys by the digest of their values


@dataclass(frozen=True)
class ArtifactRef:
    """Where a value lives: the digest of its stored bytes, its format, its size in bytes
    and, for arrays and frames, ``content``: the digest of the value itself
    (:func:`nb2pipe.runtime.fingerprint.data_digest`), known before the bytes are."""

    hash: str
    format: str
    size: int
    content: str = ""

    @property
    def key(self) -> str:
        """What names the value in the cache keys of the steps that read it."""
        return self.content or self.hash

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"hash": self.hash, "format": self.format, "size": self.size}
        if self.content:
            data["content"] = self.content
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactRef:
        return cls(
            hash=str(data["hash"]),
            format=str(data["format"]),
            size=int(data["size"]),
            content=str(data.get("content") or ""),
        )


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


class ValueChanged(Exception):
    """The value changed while it was being written (a later step changed it in place)."""


class Store(ABC):
    """The one base class of artifact stores: :class:`LocalStore` (a folder) and
    :class:`~nb2pipe.runtime.fsstore.FsspecStore` (any fsspec URL), or a plugin's.

    A backend implements the artifacts (content-addressed, checked against their digest
    when read) and small documents under relative paths; the cache index (entries under
    ``steps/<pipeline>/``) is built here on those documents. Stores are opened by
    :func:`open_store` from a location: a path, or a URL whose scheme names an entry point
    of the group ``nb2pipe.stores`` (``fsspec`` takes any other scheme)."""

    #: where the store is, as given to its constructor (a path or a URL)
    location: str
    #: (digest, size) of the artifacts this process added: a worker reports them
    written: list[tuple[str, int]]

    @abstractmethod
    def path(self, ref: ArtifactRef) -> Any:
        """Where the artifact's file is (a Path, or a path on the store's filesystem)."""

    @abstractmethod
    def save(self, value: Any) -> ArtifactRef: ...

    @abstractmethod
    def save_bytes(self, fmt: str, data: bytes, content: str = "") -> ArtifactRef: ...

    @abstractmethod
    def exists(self, ref: ArtifactRef) -> bool: ...

    @abstractmethod
    def read_bytes(self, ref: ArtifactRef) -> bytes:
        """The artifact's bytes, checked against its digest (CorruptArtifact else)."""

    @abstractmethod
    def load(self, ref: ArtifactRef) -> Any: ...

    def read_json(self, relpath: str) -> Any | None:
        """The JSON document at ``relpath`` (``/``-separated), or None."""
        data = self.read_document(relpath)
        try:
            return None if data is None else json.loads(data)
        except ValueError:
            return None

    @abstractmethod
    def write_json(self, relpath: str, value: Any, *, indent: int | None = 2) -> None:
        """Write a JSON document whole (a reader never sees half of it)."""

    @abstractmethod
    def write_bytes(self, relpath: str, data: bytes) -> None: ...

    @abstractmethod
    def read_document(self, relpath: str) -> bytes | None:
        """The bytes of the document at ``relpath``, or None when there is none."""

    @abstractmethod
    def document_size(self, relpath: str) -> int | None:
        """The size of the document at ``relpath``, or None when there is none."""

    def save_value(
        self, value: Any, fmt: str, content: str = "", *, verify: bool = False
    ) -> ArtifactRef:
        """``save`` with the digest of the value already known (``content``); ``verify``:
        raise ValueChanged if the value no longer has it (written in the background while
        later steps ran). This default encodes in memory; LocalStore streams to a file."""
        got, data = formats.encode(value)
        now = content_of(value, got)
        if verify and content and now != content:
            raise ValueChanged("the value changed while it was being stored")
        return self.save_bytes(got, data, now)

    @abstractmethod
    def mark(self) -> None:
        """Record the store's layout version and digest (older versions are still read)."""

    def open_for_run(self, runs_dir: Path) -> None:
        """Make the store ready for a run whose records go to ``runs_dir`` (OSError if it
        cannot be written)."""
        self.mark()

    def file_cache(self) -> Path | None:
        """Where the data files' digests are remembered, if beside the store (else None:
        the runs folder keeps them)."""
        return None

    @contextlib.contextmanager
    def local_file(self, ref: ArtifactRef) -> Iterator[Path]:
        """The artifact as a file on this machine (a temporary copy unless the store is
        a folder), for what needs a path: the model registry."""
        with tempfile.TemporaryDirectory(prefix="nb2pipe-artifact-") as tmp:
            path = Path(tmp) / f"{ref.hash}.{ref.format}"
            path.write_bytes(self.read_bytes(ref))
            yield path

    # -- cache index ----------------------------------------------------------------------

    @staticmethod
    def _entry(pipeline: str, step: str, key: str) -> str:
        return f"steps/{pipeline}/{step}.{key}.json"

    def get_entry(self, pipeline: str, step: str, key: str) -> dict[str, Any] | None:
        return well_formed(self.read_json(self._entry(pipeline, step, key)))

    def put_entry(self, pipeline: str, step: str, key: str, entry: dict[str, Any]) -> None:
        self.write_json(self._entry(pipeline, step, key), entry, indent=None)
        latest = {**entry, "key": key}
        self.write_json(self._entry(pipeline, step, "latest"), latest, indent=None)

    def latest_entry(self, pipeline: str, step: str) -> dict[str, Any] | None:
        return well_formed(self.read_json(self._entry(pipeline, step, "latest")))


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
STORES = "nb2pipe.stores"  # the entry-point group


def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def open_store(location: str | os.PathLike[str], **storage_options: Any) -> Store:
    """The store at ``location``: a path gets the ``local`` store (:class:`LocalStore`),
    a URL the store registered for its scheme, else the ``fsspec`` one."""
    from nb2pipe.runtime import entrypoints
    from nb2pipe.runtime.errors import UsageError

    location = os.fspath(location)
    match = _URL.match(location)
    if match is None:
        return LocalStore(location)
    declared = entrypoints.declared(STORES)
    name = match.group(1).lower()
    name = name if name in declared else "fsspec"
    try:
        cls = entrypoints.load(STORES, name)
    except KeyError:
        raise UsageError(
            f"no store for {location} (install nb2pipe-runtime[remote] for fsspec URLs)"
        ) from None
    return cls(location, **storage_options)


_OPENED: dict[str, Store] = {}


def store_at(location: str) -> Store:
    """The store at ``location``, opened once per process (a worker runs many tasks)."""
    store = _OPENED.get(location)
    if store is None:
        store = _OPENED[location] = open_store(location)
    return store


def valid_ref(ref: ArtifactRef) -> bool:
    return bool(_HASH.fullmatch(ref.hash) and _FORMAT.fullmatch(ref.format))


def content_of(value: Any, fmt: str) -> str:
    """The digest of an array or frame stored as ``fmt`` ("" for other formats, whose
    bytes' digest names them)."""
    if fmt not in DATA_FORMATS:
        return ""
    from nb2pipe.runtime.fingerprint import data_digest

    return data_digest(value) or ""


class HashingFile:
    """A file being written that digests what goes through it (so the written file is not
    read again to be named)."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.h = new_hasher()
        self.count = 0

    def write(self, data: Any) -> int:
        self.h.update(data)
        self.count += memoryview(data).nbytes
        return int(self.f.write(data))

    def truncate(self, size: int | None = None) -> int:
        if (self.f.tell() if size is None else size) == 0:  # started again from scratch
            self.h, self.count = new_hasher(), 0
        return int(self.f.truncate(size))

    def digest(self, size: int) -> str | None:
        """The digest, if every byte of the file went through ``write``."""
        return str(self.h.hexdigest()) if self.count == size else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)

    def __enter__(self) -> HashingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


class LocalStore(Store):
    """The store in a local folder: files written aside and renamed into place."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.location = str(self.root)  # absolute: what a worker process opens
        self.objects = self.root / "objects"
        self.written: list[tuple[str, int]] = []  # (digest, size) of files this process added

    # -- artifacts ------------------------------------------------------------------------

    def path(self, ref: ArtifactRef) -> Path:
        if not valid_ref(ref) or not formats.known(ref.format):
            raise ValueError(f"not an artifact reference: {ref}")
        return self.objects / ref.hash[:2] / f"{ref.hash}.{ref.format}"

    def save(self, value: Any) -> ArtifactRef:
        fmt = formats.choose(value)
        return self.save_value(value, fmt, content_of(value, fmt))

    def save_value(
        self, value: Any, fmt: str, content: str = "", *, verify: bool = False
    ) -> ArtifactRef:
        """Write ``value`` in ``fmt`` straight to a file, then name it by its digest.
        ``verify``: check afterwards that the value still has digest ``content`` (it was
        written in the background while later steps ran), else raise ValueChanged."""
        if fmt == "json":  # small: digest the bytes in memory, one file written
            return self.save_bytes(fmt, formats.encode_json(value))
        tmp = self.objects / "tmp" / f"{os.getpid()}-{secrets.token_hex(6)}.tmp"
        opened: list[HashingFile] = []

        def create(path: Path) -> HashingFile:
            opened.append(HashingFile(fsutil.create(path)))
            return opened[-1]

        try:
            if fmt not in formats.BUILTIN:  # a plugin writes to a path of its own
                tmp.parent.mkdir(parents=True, exist_ok=True)
            written = formats.write(value, fmt, tmp, create)
            if verify and content and content_of(value, fmt) != content:
                raise ValueChanged("the value changed while it was being stored")
            if not content and fmt in DATA_FORMATS:
                content = content_of(value, fmt)
            size = tmp.stat().st_size
            hashed = opened[0].digest(size) if opened else None
            ref = ArtifactRef(hashed or digest_file(tmp), written, size, content)
            self._place(tmp, ref)
        finally:
            tmp.unlink(missing_ok=True)
        return ref

    def _place(self, tmp: Path, ref: ArtifactRef) -> None:
        target = self.path(ref)
        try:
            if target.stat().st_size == ref.size:
                _touch(target)  # reused: fresh again, so `runs gc` spares it (see _touch)
                return  # same content already stored (content-addressed)
        except OSError:
            pass
        try:
            os.replace(tmp, target)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        self.written.append((ref.hash, ref.size))

    def save_bytes(self, fmt: str, data: bytes, content: str = "") -> ArtifactRef:
        ref = ArtifactRef(digest_bytes(data), fmt, len(data), content)
        target = self.path(ref)
        try:
            if target.stat().st_size == ref.size:
                _touch(target)
                return ref
        except OSError:
            pass
        atomic_write_bytes(target, data)
        self.written.append((ref.hash, ref.size))
        return ref

    def exists(self, ref: ArtifactRef) -> bool:
        try:
            return self.path(ref).stat().st_size == ref.size
        except (OSError, ValueError):
            return False

    def _check(self, ref: ArtifactRef, actual: str | None) -> None:
        path = self.path(ref)
        if actual == ref.hash:
            return
        if actual is None:
            raise CorruptArtifact(
                f"artifact {path} is missing", path=str(path), expected=ref.hash, actual=None
            )
        aside = path.with_name(f"{path.name}.{int(time.time())}.corrupt")
        try:
            os.replace(path, aside)
        except OSError:
            aside = path
        raise CorruptArtifact(
            f"artifact {path} is corrupted (digest {actual[:12]}..., expected "
            f"{ref.hash[:12]}...); moved aside to {aside.name}, the next run recomputes it",
            path=str(path),
            expected=ref.hash,
            actual=actual,
        )

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        """The artifact's bytes, checked against its digest."""
        try:
            data = self.path(ref).read_bytes()
        except FileNotFoundError:
            data = None
        algorithm = digest_algorithm(ref.hash) or DIGEST
        self._check(ref, None if data is None else digest_bytes(data, algorithm))
        assert data is not None
        return data

    def load(self, ref: ArtifactRef) -> Any:
        """The value, read from its file (memory-mapped for Arrow) once its digest is
        checked."""
        path = self.path(ref)
        try:
            actual: str | None = digest_file(path, digest_algorithm(ref.hash) or DIGEST)
        except FileNotFoundError:
            actual = None
        self._check(ref, actual)
        try:
            return formats.read(path, ref.format)
        except Exception as exc:  # noqa: BLE001 - right digest, unreadable: say which file
            raise CorruptArtifact(
                f"artifact {path} cannot be read back: {type(exc).__name__}: {exc}",
                path=str(path),
                expected=ref.hash,
                actual=ref.hash,
            ) from exc

    # -- documents ------------------------------------------------------------------------

    def read_json(self, relpath: str) -> Any | None:
        return read_json(self.root / relpath)

    def write_json(self, relpath: str, value: Any, *, indent: int | None = 2) -> None:
        atomic_write_json(self.root / relpath, value, indent=indent)

    def write_bytes(self, relpath: str, data: bytes) -> None:
        atomic_write_bytes(self.root / relpath, data)

    def read_document(self, relpath: str) -> bytes | None:
        try:
            return (self.root / relpath).read_bytes()
        except OSError:
            return None

    def document_size(self, relpath: str) -> int | None:
        try:
            return (self.root / relpath).stat().st_size
        except OSError:
            return None

    def file_cache(self) -> Path:
        return self.root / "files.json"

    def open_for_run(self, runs_dir: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.mark()
        with contextlib.suppress(OSError):  # a read-only shared store: cached runs still run
            register_runs_dir(self.root, runs_dir)

    @contextlib.contextmanager
    def local_file(self, ref: ArtifactRef) -> Iterator[Path]:
        yield self.path(ref)

    def mark(self) -> None:
        marker = self.root / "STORE"
        try:
            current = marker.read_text(encoding="utf-8")
        except OSError:
            current = ""
        if not current.startswith(f"nb2pipe artifact store v{STORE_VERSION}\n"):
            atomic_write_bytes(marker, marker_text().encode())


RUNS_DIRS = "runs-dirs"  # one file per runs folder whose runs use the store


def register_runs_dir(store_root: Path, runs_dir: Path) -> None:
    """Note in the store that ``runs_dir`` keeps runs using it: ``runs gc`` of another runs
    folder sharing the store keeps what those runs use (it reads every registered one)."""
    runs_dir = runs_dir.resolve()
    path = store_root / RUNS_DIRS / f"{digest_bytes(str(runs_dir).encode())}.json"
    if read_json(path) != {"runs_dir": str(runs_dir)}:
        atomic_write_json(path, {"runs_dir": str(runs_dir)}, indent=None)


def registered_runs_dirs(store_root: Path) -> list[Path]:
    """The runs folders registered in a store (some may be gone)."""
    found = []
    for path in sorted((store_root / RUNS_DIRS).glob("*.json")):
        data = read_json(path)
        if isinstance(data, dict) and isinstance(data.get("runs_dir"), str):
            found.append(Path(data["runs_dir"]))
    return found


def marker_text() -> str:
    return (
        f"nb2pipe artifact store v{STORE_VERSION}\n"
        f"digest: {DIGEST} (sha256 for artifacts named by 64 hex digits, before v2)\n"
        "content: xxh3_128 of dtypes, index, columns and each column's values (v3; before,"
        " of pandas blocks: cache entries of older stores miss once, their objects read)\n"
    )


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
