"""``nb2pipe models list|show|promote`` and ``nb2pipe.load_model``: the registered models.

The registry is the local one (``--registry DIR``, else ``$NB2PIPE_REGISTRY``, else
``<runs-dir>/registry``) or MLflow (``--tracking mlflow``, ``--tracking-uri`` or
``$MLFLOW_TRACKING_URI``); ``$NB2PIPE_TRACKING`` sets the default backend.
Light at import: the backends are imported when used; the CLI draws the tables.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from nb2pipe.errors import Nb2pipeError


class ModelsError(Nb2pipeError):
    """No such model or version, an unreachable registry, bad input (exit 2)."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Registry, drift and usage errors as nb2pipe errors: one line, exit 2."""
    from nb2pipe.mlops.drift import DriftError
    from nb2pipe.mlops.registry import RegistryError
    from nb2pipe.runtime.errors import UsageError

    try:
        yield
    except (RegistryError, DriftError, UsageError) as exc:
        raise ModelsError(" ".join(str(exc).split())) from None


def load_model(
    name: str,
    version: int | str | None = None,
    *,
    registry: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    tracking: str | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """A registered model: ``load_model("wine")`` (the champion), ``load_model("wine", 3)``,
    ``load_model("wine:3")`` or ``load_model("wine", "champion")``."""
    from nb2pipe.mlops.registry import parse_ref

    ref_name, ref_version = parse_ref(name)
    from nb2pipe.mlops.registry import open_registry

    reg = open_registry(tracking, registry=registry, runs_dir=runs_dir, uri=tracking_uri)
    return reg.load(reg.get(ref_name, version if version is not None else ref_version))


def list_models(reg: Any) -> list[dict[str, Any]]:
    out = []
    for name in reg.models():
        versions = reg.versions(name)
        if not versions:
            continue
        champion = next((v for v in versions if "champion" in v.aliases), None)
        newest = versions[-1]
        shown = champion or newest
        out.append(
            {
                "name": name,
                "versions": len(versions),
                "latest_version": newest.version,
                "champion": champion.version if champion else None,
                "created": shown.created,
                "run_id": shown.run_id,
                "pipeline": shown.pipeline,
                "metrics": shown.metrics,
            }
        )
    return out


def show_model(reg: Any, ref: str) -> dict[str, Any]:
    from nb2pipe.mlops.registry import parse_ref

    name, version = parse_ref(ref)
    mv = reg.get(name, version)
    out: dict[str, Any] = {"version": mv.to_json()}
    if version is None:
        out["versions"] = [
            {
                "version": v.version,
                "created": v.created,
                "run_id": v.run_id,
                "aliases": v.aliases,
                "metrics": v.metrics,
                "artifact": v.artifact.get("hash"),
            }
            for v in reg.versions(name)
        ]
    return out


def promote(reg: Any, ref: str, alias: str = "champion") -> dict[str, Any]:
    from nb2pipe.mlops.registry import RegistryError, parse_ref

    name, version = parse_ref(ref)
    if not isinstance(version, int):
        raise RegistryError(f"give a version number: {name}:N")
    reg.set_alias(name, alias, version)
    return reg.get(name, version).to_json()
