"""An artifact store on any fsspec filesystem: ``s3://bucket/prefix``, ``gs://...``,
``file:///shared/store``, ``memory://...``. Local paths keep using
:class:`~nb2pipe.runtime.store.LocalStore`; both share :class:`~nb2pipe.runtime.store.Store`.

Same layout as :class:`LocalStore` (``objects/``, ``steps/<pipeline>/``) plus the records of
steps run one at a time by an orchestrator (``runs/<run_id>/``, see
:mod:`nb2pipe.runtime.remote`).

Object stores have no rename (a PUT appears whole or not at all), so there an artifact is
written once, directly under its content hash (a reader checks size and hash, so a torn
write is never taken for the real thing), and the manifests that point to artifacts
(cache entries, step records) are written only after every artifact they name is in
place. On a local filesystem (``file://``) files are written aside and renamed, as
:class:`LocalStore` does, so two workers writing the same artifact never tear it. fsspec is imported here only: it is an
optional dependency (``pip install nb2pipe-runtime[remote]``).
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from nb2pipe.runtime import formats
from nb2pipe.runtime.errors import CorruptArtifact, UsageError
from nb2pipe.runtime.hashing import DIGEST, digest_algorithm, digest_bytes
from nb2pipe.runtime.store import ArtifactRef, Store, content_of, valid_ref


class FsspecStore(Store):
    """The store on an fsspec filesystem (entry point ``fsspec`` of ``nb2pipe.stores``:
    every URL scheme no other store claims)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            import fsspec
        except ImportError:
            raise UsageError(
                f"the store {url} needs fsspec (pip install 'nb2pipe-runtime[remote]', plus the "
                "filesystem's own package, e.g. s3fs for s3://)"
            ) from None
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:  # unknown protocol, missing s3fs/gcsfs
            raise UsageError(f"cannot open the store {url}: {exc}") from None
        self.url = self.location = url
        self.root = str(root).rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self._renames = bool({"file", "local"} & set(protocols))
        self.written: list[tuple[str, int]] = []

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -- paths --------------------------------------------------------------------------

    def _join(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if self.root else "/".join(parts)

    def path(self, ref: ArtifactRef) -> str:
        if not valid_ref(ref) or not formats.known(ref.format):
            raise ValueError(f"not an artifact reference: {ref}")
        return self._join("objects", ref.hash[:2], f"{ref.hash}.{ref.format}")

    # -- artifacts ----------------------------------------------------------------------

    def save(self, value: Any) -> ArtifactRef:
        fmt, data = formats.encode(value)
        return self.save_bytes(fmt, data, content_of(value, fmt))

    def save_bytes(self, fmt: str, data: bytes, content: str = "") -> ArtifactRef:
        ref = ArtifactRef(digest_bytes(data), fmt, len(data), content)
        if not self.exists(ref):  # content-addressed: the same bytes may be there already
            self._put(self.path(ref), data)
            self.written.append((ref.hash, ref.size))
        return ref

    def _put(self, path: str, data: bytes) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        if not self._renames:
            self.fs.pipe_file(path, data)
            return
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        except BaseException:
            try:
                self.fs.rm_file(tmp)
            except OSError:
                pass
            raise

    def exists(self, ref: ArtifactRef) -> bool:
        try:
            return int(self.fs.size(self.path(ref))) == ref.size
        except (OSError, ValueError, TypeError):
            return False

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        path = self.path(ref)
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            raise CorruptArtifact(
                f"artifact {self.url} {path} is missing", path=path, expected=ref.hash, actual=None
            ) from None
        actual = digest_bytes(data, digest_algorithm(ref.hash) or DIGEST)
        if actual != ref.hash:
            try:  # no rename on object stores: remove it, the next run writes it again
                self.fs.rm_file(path)
                fate = "removed, the next run recomputes it"
            except OSError:
                fate = "left in place"
            raise CorruptArtifact(
                f"artifact {path} is corrupted (digest {actual[:12]}..., expected "
                f"{ref.hash[:12]}...); {fate}",
                path=path,
                expected=ref.hash,
                actual=actual,
            )
        return data

    def load(self, ref: ArtifactRef) -> Any:
        data = self.read_bytes(ref)
        try:
            return formats.decode(data, ref.format)
        except Exception as exc:  # noqa: BLE001 - right hash, unreadable: say which file
            raise CorruptArtifact(
                f"artifact {self.path(ref)} cannot be read back: {type(exc).__name__}: {exc}",
                path=self.path(ref),
                expected=ref.hash,
                actual=ref.hash,
            ) from exc

    # -- small JSON documents (manifests) -----------------------------------------------

    def write_bytes(self, relpath: str, data: bytes) -> None:
        self._put(self._join(relpath), data)

    def read_document(self, relpath: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self._join(relpath)))
        except (OSError, ValueError):
            return None

    def document_size(self, relpath: str) -> int | None:
        try:
            return int(self.fs.size(self._join(relpath)))
        except (OSError, ValueError, TypeError):
            return None

    def write_json(self, relpath: str, value: Any, *, indent: int | None = None) -> None:
        text = json.dumps(value, indent=indent, default=str, ensure_ascii=False)
        self.write_bytes(relpath, (text + "\n").encode())

    def mark(self) -> None:
        from nb2pipe.runtime.store import marker_text

        try:
            current = bytes(self.fs.cat_file(self._join("STORE"))).decode(errors="replace")
        except (OSError, ValueError):
            current = ""
        if current != marker_text():
            self.write_bytes("STORE", marker_text().encode())
