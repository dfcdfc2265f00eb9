"""The Jinja2 environment every generated file and page is rendered with.

Templates come from a copy of `templates/` named by NB2PIPE_TEMPLATES first (to override
one), then from the package (`nb2pipe.templates`). Values from a notebook reach templates
only through the safe renderers of `nb2pipe.codegen.render`, registered here as filters.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from nb2pipe import __version__
from nb2pipe.codegen import render


def environment(folder: str = "", *, autoescape: bool = False, **filters: Any) -> Any:
    """A new environment for the templates in `folder` ("" for generated files, "viz" for
    HTML pages, which are autoescaped), with the safe renderers and `filters` added.
    Callers cache their own."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    user = os.environ.get("NB2PIPE_TEMPLATES")
    if user:
        loaders.append(jinja2.FileSystemLoader(os.path.join(user, folder)))
    loaders.append(jinja2.PackageLoader("nb2pipe.templates", folder or "."))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        bytecode_cache=_bytecode_cache(jinja2),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pyrepr=render.py_value,
        ident=render.ident,
        comment=render.comment,
        docstring=lambda text, ind="": render.docstring(text or "", ind),
        md=render.md_cell,
    )
    env.filters.update(filters)
    env.globals["version"] = __version__
    return env


def _bytecode_cache(jinja2: Any) -> Any:
    """Compiled templates kept between processes (compiling them is most of a small
    convert's time). Only a speed-up: a cache that cannot be read or written is ignored."""

    class QuietCache(jinja2.FileSystemBytecodeCache):  # type: ignore[misc,name-defined]
        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # noqa: BLE001 - a damaged cache file: compile again
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass

    folder = os.environ.get("NB2PIPE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nb2pipe", "templates"
    )
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return QuietCache(folder) if private(folder) else None


def private(folder: str) -> bool:
    """Is `folder` a real folder (not a symlink) owned by this user that no one else may
    write? The cache unpickles what it finds there: any other folder is not used."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()
