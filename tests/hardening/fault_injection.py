"""Faults injected into the runtime's file writes.

Every file the runtime writes (artifacts, cache entries, run.json, files.json, the STORE
marker) goes through ``nb2pipe.runtime.fsutil.atomic_write_bytes``, which opens its
temporary file with ``open``. Replacing ``fsutil.open`` with :func:`faulty_open` makes
the writes whose target path contains ``match`` misbehave:

- ``slow``: write in small chunks with pauses, touching ``flag`` after the first chunk
  (a test kills the process mid-write);
- ``enospc``: write half the data, then fail as a full disk does;
- ``erofs`` / ``eacces``: fail at open, as a read-only file system or folder does.

In-process tests install it with ``monkeypatch.setattr(fsutil, "open", faulty_open(...),
raising=False)``; subprocesses (and their worker processes) with :func:`install_from_env`
from a ``sitecustomize`` module on ``PYTHONPATH`` (see :func:`write_sitecustomize`).
"""

from __future__ import annotations

import builtins
import errno
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENV_MATCH, ENV_MODE, ENV_FLAG = "NB2PIPE_FAULT_MATCH", "NB2PIPE_FAULT_MODE", "NB2PIPE_FAULT_FLAG"
_real_open = builtins.open


class _SlowFile:
    """A file whose writes crawl, so a kill lands in the middle of one."""

    def __init__(self, f: Any, flag: str | None) -> None:
        self._f, self._flag = f, flag

    def write(self, data: bytes) -> int:
        step = max(1, len(data) // (40 if len(data) > 100_000 else 10))  # 2 s, or 0.5 s
        for i in range(0, len(data), step):
            self._f.write(data[i : i + step])
            self._f.flush()
            if i == 0 and self._flag:
                Path(self._flag).touch()
            time.sleep(0.05)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _SlowFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


class _FullDisk(_SlowFile):
    def write(self, data: bytes) -> int:
        self._f.write(data[: len(data) // 2])
        if self._flag:
            Path(self._flag).touch()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._f.name)


def faulty_open(match: str, mode: str, flag: str | None = None) -> Callable[..., Any]:
    def open_(file: Any, how: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" not in how or match not in os.fspath(file):
            return _real_open(file, how, *args, **kwargs)
        if mode in ("erofs", "eacces"):
            code = errno.EROFS if mode == "erofs" else errno.EACCES
            if flag:
                Path(flag).touch()
            raise OSError(code, os.strerror(code), os.fspath(file))
        f = _real_open(file, how, *args, **kwargs)
        return _FullDisk(f, flag) if mode == "enospc" else _SlowFile(f, flag)

    return open_


def install_from_env() -> None:
    match = os.environ.get(ENV_MATCH)
    if not match:
        return
    from nb2pipe.runtime import fsutil

    fsutil.open = faulty_open(match, os.environ[ENV_MODE], os.environ.get(ENV_FLAG))  # type: ignore[attr-defined]


def write_sitecustomize(folder: Path) -> Path:
    """A folder to put first on PYTHONPATH: its sitecustomize installs the faults named
    by the environment in every interpreter that starts (workers included)."""
    folder.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    (folder / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(here)!r})\n"
        "import fault_injection\nfault_injection.install_from_env()\n"
    )
    return folder
