"""Entry points, the one plugin mechanism of nb2pipe: every extension point is a group.

=========================  =========================================================
group                      what a plugin is
=========================  =========================================================
``nb2pipe.formats``        a library's own save format (:mod:`.plugins`)
``nb2pipe.executors``      where steps run: a :class:`.executors.StepExecutor` class
``nb2pipe.stores``         an artifact store for a URL scheme (:mod:`.stores`)
``nb2pipe.run_hooks``      work before and after a run (:mod:`.hooks`)
``nb2pipe.registries``     a model registry backend (``nb2pipe.mlops.registry``)
``nb2pipe.exporters``      an orchestrator or CI target (``nb2pipe.exporters``)
``nb2pipe.readers``        the compiler's notebook reader, for :mod:`.freshness`
=========================  =========================================================

The installed distributions' ``entry_points.txt`` files on ``sys.path`` are read once
per process (a plain scan: ``importlib.metadata`` costs ~0.1 s more at every start), and a
plugin's module is imported only when it is asked for by name.
"""

from __future__ import annotations

import configparser
import importlib
import os
import sys
from typing import Any

_index: dict[str, dict[str, str]] | None = None


def _scan() -> dict[str, dict[str, str]]:
    """{group: {name: "module:attr"}}; the first distribution on sys.path wins a name."""
    found: dict[str, dict[str, str]] = {}
    for entry in sys.path:
        try:
            listing = sorted(os.scandir(entry or "."), key=lambda d: d.name)
        except OSError:
            continue
        for d in listing:
            if not d.name.endswith((".dist-info", ".egg-info")):
                continue
            path = os.path.join(d.path, "entry_points.txt")
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if "nb2pipe." not in text and "nbconvert." not in text:
                continue
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            try:
                parser.read_string(text)
            except configparser.Error:
                continue
            for group in parser.sections():
                names = found.setdefault(group, {})
                for name, value in parser.items(group):
                    names.setdefault(name, value.split("[")[0].strip())
    return found


def declared(group: str) -> dict[str, str]:
    """The entry points of ``group``: ``{name: "module:attr"}`` (nothing imported)."""
    global _index
    if _index is None:
        _index = _scan()
    return dict(_index.get(group, {}))


def load(group: str, name: str) -> Any:
    """The object the entry point ``name`` of ``group`` names (its module imported now);
    KeyError when no installed distribution declares it."""
    target = declared(group)[name]
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else ():
        obj = getattr(obj, part)
    return obj


def reset() -> None:
    """Forget what was found (after installing a plugin in this process)."""
    global _index
    _index = None
