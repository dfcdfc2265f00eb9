"""The workers' environments, checked before the first task: the same Python (major.minor),
the same nb2pipe runtime, and every distribution the package's steps import at the same
version as here (cache keys name those versions, so a worker with another one would
compute a result filed under the wrong key)."""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping
from typing import Any

from nb2pipe.runtime.errors import UsageError


def requirements(plan: Any) -> list[str]:
    """The distributions the run's selected steps import (their ``Step.distributions``)."""
    steps = [s for s in plan.pipeline.steps if s.name in plan.selected] if plan else []
    return sorted({d for s in steps for d in s.distributions})


def environment(dists: Iterable[str]) -> dict[str, Any]:
    """This process's Python, nb2pipe runtime and distribution versions (runs on workers
    too: it imports nothing but the standard library and the runtime's version)."""
    from importlib import metadata

    from nb2pipe.runtime import __version__

    versions: dict[str, str | None] = {}
    for dist in dists:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    python = ".".join(platform.python_version_tuple()[:2])
    return {"python": python, "nb2pipe": __version__, "distributions": versions}


def problems(here: Mapping[str, Any], there: Mapping[str, Any]) -> list[str]:
    """What differs on a worker (``there``) from this process (``here``)."""
    found = []
    if there.get("python") != here["python"]:
        found.append(f"Python {there.get('python')} (here {here['python']})")
    if there.get("nb2pipe") != here["nb2pipe"]:
        found.append(f"nb2pipe-runtime {there.get('nb2pipe')} (here {here['nb2pipe']})")
    theirs = there.get("distributions") or {}
    for dist, version in sorted(here["distributions"].items()):
        if version is None:
            continue  # not installed here either: the step fails the same way everywhere
        other = theirs.get(dist)
        if other is None:
            found.append(f"{dist} is not installed (here {version})")
        elif other != version:
            found.append(f"{dist} {other} (here {version})")
    return found


def check(engine: str, here: Mapping[str, Any], workers: Mapping[str, Any]) -> None:
    """UsageError naming the first worker whose environment differs (one line)."""
    if not workers:
        raise UsageError(f"the {engine} cluster has no worker")
    for name, there in sorted(workers.items()):
        if isinstance(there, BaseException):
            raise UsageError(
                f"{engine} worker {name}: cannot check its environment: "
                f"{type(there).__name__}: {there}"
            )
        found = problems(here, there)
        if found:
            raise UsageError(
                f"{engine} worker {name} differs from this environment: {'; '.join(found)}; "
                "install the same versions on the workers"
            )
