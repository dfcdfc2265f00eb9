"""Atomic file writes: a temporary file in the same folder, then ``os.replace``."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def tmp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def create(path: Path) -> Any:
    """A new binary file to write, its folder made if needed (opened with this module's
    ``open``, as every write of the runtime is: the fault-injection tests replace it)."""
    try:
        return open(path, "wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "wb")


def atomic_write_bytes(target: Path, data: bytes, *, fsync: bool = False) -> None:
    tmp = tmp_name(target)
    try:
        try:
            f = open(tmp, "wb")
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            f = open(tmp, "wb")
        with f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(target: Path, value: Any, *, indent: int | None = 2) -> None:
    """``indent=None`` uses the fast C encoder (machine-read files)."""
    text = json.dumps(value, indent=indent, default=str, ensure_ascii=False)
    atomic_write_bytes(target, (text + "\n").encode())


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def drop_bytecode(source: Path) -> None:
    """Delete the cached bytecode of a module whose file changed: Python trusts a .pyc
    whose source has the same size and modification second, which a quick edit or
    reconvert can produce."""
    if source.suffix == ".py":
        cache = source.parent / "__pycache__"
        if cache.is_dir() and not cache.is_symlink():
            for pyc in cache.glob(f"{source.stem}.*.pyc"):
                pyc.unlink(missing_ok=True)
