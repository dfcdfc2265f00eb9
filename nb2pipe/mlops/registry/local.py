"""The file-based registry (the default). Layout::

    <registry>/REGISTRY                          layout version
    <registry>/<name>/versions/000001.json       a version's record (ModelVersion)
    <registry>/<name>/versions/000001.reference.json   reference statistics (drift)
    <registry>/<name>/artifacts/<digest>.<fmt>   the model, named by the digest of its bytes
    <registry>/<name>/aliases.json               {"champion": 1}

The registry holds its own copy (a hard link when it can) of each model, so it does not
depend on the artifact store: ``nb2pipe runs gc`` never breaks a registered version.
A version number is claimed by creating its record with a link that fails if it exists,
so two runs registering at once get two numbers. Every file is written atomically.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from nb2pipe.mlops.registry import (
    CHAMPION,
    REGISTRY_ENV,
    Candidate,
    ModelVersion,
    Registered,
    Registry,
    RegistryError,
    check_name,
)
from nb2pipe.runtime import formats
from nb2pipe.runtime.fsutil import atomic_write_bytes, atomic_write_json, read_json, tmp_name
from nb2pipe.runtime.hashing import digest_algorithm, digest_file, matches
from nb2pipe.runtime.records import iso

LAYOUT = 1


class LocalRegistry(Registry):
    kind = "local"

    @classmethod
    def open(
        cls,
        *,
        registry: str | os.PathLike[str] | None,
        runs_dir: str | os.PathLike[str] | None,
        uri: str | None,
    ) -> LocalRegistry:
        from nb2pipe.runtime.project import runs_location

        folder = registry or os.environ.get(REGISTRY_ENV)
        return cls(folder or runs_location(runs_dir).path / "registry")

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def describe(self) -> str:
        return f"local registry {self.root}"

    # -- paths ------------------------------------------------------------------------------

    def _model(self, name: str) -> Path:
        return self.root / check_name(name)

    def _record(self, name: str, version: int) -> Path:
        return self._model(name) / "versions" / f"{version:06d}.json"

    def _artifact(self, name: str, artifact: dict[str, Any]) -> Path:
        digest, fmt = str(artifact.get("hash", "")), str(artifact.get("format", ""))
        if digest_algorithm(digest) is None or not formats.known(fmt):
            raise RegistryError(f"model {name}: malformed artifact reference {artifact!r}")
        return self._model(name) / "artifacts" / f"{digest}.{fmt}"

    # -- reading ----------------------------------------------------------------------------

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and (p / "versions").is_dir()
        )

    def _aliases(self, name: str) -> dict[str, int]:
        data = read_json(self._model(name) / "aliases.json")
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, int)}

    def versions(self, name: str) -> list[ModelVersion]:
        folder = self._model(name) / "versions"
        if not folder.is_dir():
            raise RegistryError(
                f"no model {name!r} in {self.root}"
                + (f" (models: {', '.join(self.models())})" if self.models() else "")
            )
        aliases = self._aliases(name)
        out: list[ModelVersion] = []
        for path in sorted(folder.glob("[0-9]*.json")):
            if path.name.endswith(".reference.json"):
                continue
            data = read_json(path)
            if not isinstance(data, dict):
                continue
            mv = ModelVersion.from_json(data)
            mv.aliases = sorted(a for a, v in aliases.items() if v == mv.version)
            mv.source = str(path)
            out.append(mv)
        return sorted(out, key=lambda v: v.version)

    def get(self, name: str, version: int | str | None = None) -> ModelVersion:
        versions = self.versions(name)
        if isinstance(version, int):
            found = [v for v in versions if v.version == version]
            if not found:
                raise RegistryError(
                    f"model {name!r} has no version {version} "
                    f"(versions: {', '.join(str(v.version) for v in versions)})"
                )
            return found[0]
        alias = version or CHAMPION
        number = self._aliases(name).get(alias)
        if number is None:
            if version is None and versions:
                return versions[-1]  # no champion yet (an older registry): the newest
            raise RegistryError(f"model {name!r} has no version called {alias!r}")
        return self.get(name, number)

    def load(self, version: ModelVersion) -> Any:
        path = self._artifact(version.name, version.artifact)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RegistryError(f"cannot read {version.label}: {exc.strerror or exc}") from None
        if not matches(data, str(version.artifact.get("hash"))):
            raise RegistryError(f"{path} does not match its hash: the registry is corrupted")
        return formats.decode(data, str(version.artifact["format"]))

    def reference(self, version: ModelVersion) -> dict[str, Any] | None:
        data = read_json(self._record(version.name, version.version).with_suffix(".reference.json"))
        return data if isinstance(data, dict) else None

    # -- writing ----------------------------------------------------------------------------

    def alias_version(self, name: str, alias: str = CHAMPION) -> int | None:
        return self._aliases(name).get(alias)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.get(name, version)  # it must exist
        aliases = self._aliases(name)
        aliases[alias] = version
        atomic_write_json(self._model(name) / "aliases.json", aliases)

    def _store_artifact(self, name: str, meta: ModelVersion, source: Path) -> None:
        target = self._artifact(name, meta.artifact)
        if target.is_file() and target.stat().st_size == meta.artifact.get("size"):
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_name(target)
        try:
            try:
                os.link(source, tmp)  # same file system: no copy
            except OSError:
                shutil.copyfile(source, tmp)
            expected = str(meta.artifact.get("hash"))
            if digest_file(tmp, digest_algorithm(expected) or "sha256") != expected:
                raise RegistryError(f"the stored artifact {source} does not match its hash")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def register(self, candidate: Candidate, *, alias: str | None = CHAMPION) -> Registered:
        meta = candidate.meta
        name = check_name(meta.name)
        (self.root).mkdir(parents=True, exist_ok=True)
        marker = self.root / "REGISTRY"
        if not marker.exists():
            atomic_write_bytes(marker, f"nb2pipe model registry v{LAYOUT}\n".encode())
        try:
            existing = self.versions(name)
        except RegistryError:
            existing = []
        reused = self._reuse(existing, candidate, alias)
        if reused is not None:
            return reused
        self._store_artifact(name, meta, candidate.artifact_path)
        number = existing[-1].version + 1 if existing else 1
        folder = self._model(name) / "versions"
        folder.mkdir(parents=True, exist_ok=True)
        candidate.complete()
        while True:
            meta.version = number
            meta.created = meta.created or iso(time.time()) or ""
            meta.aliases, meta.source = [], ""
            tmp = tmp_name(self._record(name, number))
            atomic_write_json(tmp, meta.to_json())
            try:
                os.link(tmp, self._record(name, number))  # fails if the number is taken
                break
            except FileExistsError:
                number += 1
            finally:
                tmp.unlink(missing_ok=True)
        if candidate.reference is not None:
            atomic_write_json(
                self._record(name, number).with_suffix(".reference.json"),
                candidate.reference,
                indent=None,
            )
        if alias is not None:
            self.set_alias(name, alias, number)
        return Registered(self.get(name, number), new=True)
