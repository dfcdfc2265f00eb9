"""Runs inside the notebook's kernel: save a step's outputs where the step ends.

The instrumented copy of the notebook calls :func:`save` in a cell of its own after the
last cell of each step. It must stay light (imported in the user's kernel) and must not
leave names behind in the notebook's namespace. Values are written with cloudpickle when
it is available, so classes and functions defined in the notebook (``__main__``) travel
by value and can be read back outside the kernel.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

from nb2pipe.runtime.randomstate import RANDOM_STATE, STREAMS, capture

MANIFEST = "manifest.json"


def _pickler() -> Any:
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - joblib vendors it
        try:
            from joblib.externals import cloudpickle
        except ImportError:
            return pickle
    return cloudpickle


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def save(folder: str, step: str, names: Sequence[str], namespace: Mapping[str, Any]) -> None:
    """Write ``namespace[name]`` for each of ``names`` to ``folder/step/`` and a manifest
    saying, per name, ``ok`` (with its file), ``undefined`` or ``error``."""
    out = os.path.join(folder, step)
    os.makedirs(out, exist_ok=True)
    dumper = _pickler()
    manifest: dict[str, dict[str, str]] = {}
    for i, name in enumerate(names):
        if name == RANDOM_STATE:  # the global random streams where the step ends
            namespace = {**namespace, name: capture(STREAMS, load=False)}
        if name not in namespace:
            manifest[name] = {"status": "undefined"}
            continue
        path = os.path.join(out, f"{i}.pkl")
        try:
            with open(path, "wb") as f:
                dumper.dump(namespace[name], f, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - reported, compared as unstorable
            manifest[name] = {"status": "error", "error": _one_line(exc)}
        else:
            manifest[name] = {"status": "ok", "file": f"{i}.pkl"}
    tmp = os.path.join(out, MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    os.replace(tmp, os.path.join(out, MANIFEST))


def load_manifest(folder: str, step: str) -> dict[str, dict[str, str]] | None:
    """The manifest a step's capture cell wrote, or None if the kernel never got there."""
    try:
        with open(os.path.join(folder, step, MANIFEST), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_value(folder: str, step: str, entry: Mapping[str, str]) -> Any:
    with open(os.path.join(folder, step, entry["file"]), "rb") as f:
        return pickle.load(f)  # noqa: S301 - written by our own capture cell
