"""The model registry: one small interface, two backends.

* ``local`` (the default): files under ``<runs-dir>/registry`` (see :mod:`.local`).
* ``mlflow``: an MLflow tracking server and its model registry (see :mod:`.mlflow`);
  ``mlflow`` is imported only when this backend is used (``pip install 'nb2pipe[mlflow]'``).

A version records the model's artifact, the run that made it, the parameters and metrics
of that run, the hashes of its data (files read, training inputs) and code, and the
reference statistics of its training data (for ``nb2pipe drift``). The pointer
:data:`CHAMPION` names the current version (MLflow reserves ``latest``); a run that passes
every gate moves it to the model it produced.
"""

from __future__ import annotations

import functools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.runtime.errors import Nb2pipeError, UsageError

CHAMPION = "champion"
TRACKING_ENV = "NB2PIPE_TRACKING"  # local | mlflow
REGISTRY_ENV = "NB2PIPE_REGISTRY"  # folder of the local registry
URI_ENV = "MLFLOW_TRACKING_URI"
GROUP = "nb2pipe.registries"  # registry backends are plugins: {name: Registry subclass}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class RegistryError(Nb2pipeError):
    """The registry cannot be read or written, or has no such model or version (exit 1
    for a run, 2 for a command given a name that does not exist)."""


@dataclass
class ModelVersion:
    """One registered version of a model."""

    name: str
    version: int
    created: str = ""
    run_id: str = ""
    pipeline: str = ""
    step: str = ""
    variable: str = ""
    artifact: dict[str, Any] = field(default_factory=dict)  # hash, format, size
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    directions: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # files{path: sha256}, inputs{var: hash}
    code: dict[str, Any] = field(default_factory=dict)  # digest, steps{name: hash}, notebook
    gates: dict[str, str] = field(default_factory=dict)  # gate step -> status
    aliases: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)  # features with reference statistics
    schema: dict[str, Any] = field(default_factory=dict)  # features the model takes (serving)
    primary: str = ""  # the metric the champion policy judges by
    promotion: dict[str, Any] = field(default_factory=dict)  # what registering did to champion
    source: str = ""  # where the backend keeps it
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific (MLflow run id)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelVersion:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass
class Candidate:
    """A model a run produced, to be registered: its stored artifact and its record."""

    meta: ModelVersion  # version number and aliases filled in by the registry
    artifact_path: Path  # the artifact's file in the store (content-addressed)
    # Computes the reference statistics of the training data; called only when a new
    # version is stored (a rerun of an identical model loads no training data).
    profile: Callable[[], dict[str, Any] | None] | None = None
    # Computes the feature schema (nb2pipe.mlops.schema); also only for a new version.
    describe: Callable[[], dict[str, Any] | None] | None = None

    @functools.cached_property
    def reference(self) -> dict[str, Any] | None:
        return self.profile() if self.profile is not None else None

    def complete(self) -> ModelVersion:
        """The record of a new version: reference features and schema filled in."""
        if self.reference is not None:
            self.meta.reference = sorted(self.reference.get("features", {}))
        if self.describe is not None:
            self.meta.schema = self.describe() or {}
        return self.meta


@dataclass
class Registered:
    version: ModelVersion
    new: bool  # False: the run's model is an existing version (same artifact)


def check_name(name: str, what: str = "model name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RegistryError(f"invalid {what} {name!r}: use letters, digits and '_'")
    return name


def parse_ref(text: str) -> tuple[str, int | str | None]:
    """``wine`` -> (wine, None); ``wine:3`` -> (wine, 3); ``wine:champion`` -> alias."""
    name, sep, version = str(text).partition(":")
    check_name(name)
    if not sep:
        return name, None
    if version.isdigit():
        return name, int(version)
    if _ALIAS.fullmatch(version):
        return name, version
    raise RegistryError(f"invalid version {version!r} in {text!r}: a number or an alias")


class Registry(ABC):
    """What the runner, the CLI and ``nb2pipe.load_model`` need from a backend."""

    kind = "?"

    @classmethod
    @abstractmethod
    def open(
        cls,
        *,
        registry: str | os.PathLike[str] | None,
        runs_dir: str | os.PathLike[str] | None,
        uri: str | None,
    ) -> Registry:
        """The backend where the options and the environment say (see open_registry)."""

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, record: dict[str, Any], run_dir: Path) -> None:  # noqa: B027
        """Called after a run, before its models are registered (MLflow: log the run)."""

    def end_run(self, record: dict[str, Any], run_dir: Path) -> None:  # noqa: B027
        """Called last, with the final record (MLflow: status, last artifacts)."""

    # -- models -----------------------------------------------------------------------------

    @abstractmethod
    def register(self, candidate: Candidate, *, alias: str | None = CHAMPION) -> Registered:
        """A new version (or the existing one holding the same artifact), pointed to by
        ``alias`` (None: no alias moves)."""

    @abstractmethod
    def models(self) -> list[str]: ...

    @abstractmethod
    def versions(self, name: str) -> list[ModelVersion]:
        """Oldest first; raises RegistryError for an unknown model."""

    @abstractmethod
    def get(self, name: str, version: int | str | None = None) -> ModelVersion:
        """A version by number, by alias, or (None) the champion."""

    @abstractmethod
    def set_alias(self, name: str, alias: str, version: int) -> None: ...

    def alias_version(self, name: str, alias: str = CHAMPION) -> int | None:
        """The version number ``alias`` points to, or None; cheap enough to poll."""
        try:
            return self.get(name, alias).version
        except RegistryError:
            return None

    @abstractmethod
    def load(self, version: ModelVersion) -> Any:
        """The model object, read back (hash checked)."""

    @abstractmethod
    def reference(self, version: ModelVersion) -> dict[str, Any] | None:
        """The reference statistics stored with the version, if any."""

    def describe(self) -> str:
        return self.kind

    def _reuse(
        self, existing: list[ModelVersion], candidate: Candidate, alias: str | None
    ) -> Registered | None:
        """The version already holding the candidate's artifact, now pointed to by `alias`
        (an identical model adds no version), or None."""
        digest = candidate.meta.artifact.get("hash")
        same = next((v for v in reversed(existing) if v.artifact.get("hash") == digest), None)
        if same is None:
            return None
        if alias is not None and alias not in same.aliases:
            self.set_alias(same.name, alias, same.version)
        return Registered(self.get(same.name, same.version), new=False)


def default_tracking() -> str:
    """``$NB2PIPE_TRACKING``, else the project's ``tracking`` setting, else local."""
    from nb2pipe.runtime.project import setting

    return os.environ.get(TRACKING_ENV, "").strip().lower() or setting("tracking") or "local"


def backends() -> list[str]:
    """Names of the installed registry backends (the entry-point group)."""
    from nb2pipe.runtime import entrypoints

    return sorted(entrypoints.declared(GROUP))


def open_registry(
    tracking: str | None = None,
    *,
    registry: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    uri: str | None = None,
) -> Registry:
    """The backend registered as ``tracking`` in the entry-point group
    ``nb2pipe.registries`` ("local" or "mlflow" here; default ``$NB2PIPE_TRACKING`` or
    local). Local: folder ``registry``, else ``$NB2PIPE_REGISTRY``, else
    ``<runs_dir>/registry`` (default: the project's runs folder, see
    :mod:`nb2pipe.runtime.project`). MLflow: ``uri``, else ``$MLFLOW_TRACKING_URI``, else
    the project's ``tracking_uri``."""
    from nb2pipe.runtime import entrypoints

    kind = (tracking or default_tracking()).lower()
    try:
        cls = entrypoints.load(GROUP, kind)
    except KeyError:
        raise UsageError(
            f"unknown tracking backend {kind!r} (use {' or '.join(backends())})"
        ) from None
    return cls.open(registry=registry, runs_dir=runs_dir, uri=uri)


__all__ = [
    "GROUP",
    "backends",
    "CHAMPION",
    "Candidate",
    "ModelVersion",
    "Registered",
    "Registry",
    "RegistryError",
    "check_name",
    "open_registry",
    "parse_ref",
]
