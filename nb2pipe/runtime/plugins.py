"""Format plugins: a library's own save format for values nb2pipe would otherwise pickle
(xgboost's ``save_model``, torch's ``state_dict``, ...).

A plugin is registered under the entry-point group ``nb2pipe.formats``; the entry point's
name is the format's name (lowercase letters, digits and ``_``; it is also the suffix of
the stored file)::

    [project.entry-points."nb2pipe.formats"]
    xgb = "nb2pipe_xgboost:XGBoostFormat"

and points to an object (a class or an instance) with:

- ``types``: qualified names of the exact types it stores (``"xgboost.core.Booster"``),
  as strings, so nothing is imported to match them;
- ``write(value, path)``: write ``value`` to the file ``path``;
- ``read(path)``: the value back; it must compare equal to what was written;
- optionally ``claims(value) -> bool``, consulted instead of ``types``.

Plugins are looked up only for values no built-in format takes (JSON, .npy, Arrow): the
installed distributions are scanned once per process for the group (about a millisecond),
and a plugin module is imported only when such a value is stored or read.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

GROUP = "nb2pipe.formats"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_RESERVED = frozenset({"json", "npy", "arrow", "parquet", "joblib", "cloudpickle", "pickle"})
_plugins: dict[str, Any] | None = None
errors: list[str] = []  # plugins that could not be loaded, one line each


def _declared() -> bool:
    """Does any installed distribution declare the group? (A plain scan of the
    ``entry_points.txt`` files on sys.path: importlib.metadata costs ~0.1 s more.)"""
    for entry in sys.path:
        try:
            listing = list(os.scandir(entry or "."))
        except OSError:
            continue
        for d in listing:
            if not d.name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(d.path, "entry_points.txt"), encoding="utf-8") as f:
                    if f"[{GROUP}]" in f.read():
                        return True
            except OSError:
                continue
    return False


def _load() -> dict[str, Any]:
    global _plugins
    if _plugins is not None:
        return _plugins
    found: dict[str, Any] = {}
    if _declared():
        from importlib.metadata import entry_points

        for ep in entry_points(group=GROUP):
            if not _NAME.fullmatch(ep.name) or ep.name in _RESERVED:
                errors.append(f"format plugin {ep.name!r} ({ep.value}): invalid or reserved name")
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break runs
                errors.append(f"format plugin {ep.name!r} ({ep.value}) cannot be loaded: {exc}")
                continue
            if not (callable(getattr(plugin, "write", None)) and callable(plugin.read)):
                errors.append(f"format plugin {ep.name!r} ({ep.value}) has no write/read")
                continue
            plugin.name = ep.name
            found[ep.name] = plugin
    _plugins = found
    return found


def reset() -> None:
    """Forget the plugins found (after installing one in this process)."""
    global _plugins
    _plugins = None
    errors.clear()


def get(name: str) -> Any | None:
    return _load().get(name)


def claiming(value: Any) -> Any | None:
    """The plugin that stores ``value``, if any."""
    plugins = _load()
    if not plugins:
        return None
    t = type(value)
    qualified = f"{t.__module__}.{t.__qualname__}"
    for plugin in plugins.values():
        claims = getattr(plugin, "claims", None)
        if callable(claims):
            try:
                if claims(value):
                    return plugin
            except Exception:  # noqa: BLE001, S112 - a plugin's bug: not its value
                continue
        elif qualified in tuple(getattr(plugin, "types", ())):
            return plugin
    return None
