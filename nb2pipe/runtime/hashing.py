"""Hashes that key the cache: code from its syntax tree, file contents, parameter values,
and the digests that name stored artifacts.

Artifacts and data files are hashed with xxh3-128 (``xxhash``: 32 hex digits, several GB/s);
stores written before used sha256 (64 hex digits), which is still read: the length of a
digest tells its algorithm. Cache keys and code hashes stay sha256 (small inputs).
Nothing here imports a step's libraries: code is hashed from source text, never imported.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
#: the digest of new artifacts and data files; ``DIGESTS`` reads every one a store may hold
DIGEST = "xxh3_128"
_DIGEST_BY_LENGTH = {32: "xxh3_128", 64: "sha256"}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_hasher(algorithm: str = DIGEST) -> Any:
    """A streaming hasher (``update``, ``hexdigest``) of the given algorithm."""
    return _hasher(algorithm)


def _hasher(algorithm: str) -> Any:
    if algorithm == "xxh3_128":
        import xxhash

        return xxhash.xxh3_128()
    return hashlib.new(algorithm)


def digest_algorithm(digest: str) -> str | None:
    """The algorithm a stored digest was made with (by its length), None if unknown."""
    return _DIGEST_BY_LENGTH.get(len(digest)) if isinstance(digest, str) else None


def digest_bytes(data: Any, algorithm: str = DIGEST) -> str:
    """Digest of a bytes-like object (bytes, memoryview, mmap)."""
    h = _hasher(algorithm)
    h.update(data)
    return str(h.hexdigest())


def digest_file(path: str | os.PathLike[str], algorithm: str = DIGEST) -> str:
    """Digest of a file's content, read a few MB at a time into one buffer (a memory map
    would count the whole file in the process's peak memory)."""
    h = _hasher(algorithm)
    buf = bytearray(8 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return str(h.hexdigest())


def matches(data: Any, digest: str) -> bool:
    """Do these bytes have this digest (sha256 or xxh3-128, told apart by length)?"""
    algorithm = digest_algorithm(digest)
    return algorithm is not None and digest_bytes(data, algorithm) == digest


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return sha256_bytes(text.encode())


# --- code -------------------------------------------------------------------------------


def strip_docstrings(tree: ast.AST) -> ast.AST:
    """The tree without docstrings (they are documentation, not behaviour)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def dump_code(node: ast.AST) -> str:
    """The syntax tree without positions or docstrings: comments, blank lines, moved
    ``# cell N`` markers and edited markdown (docstrings) do not change it."""
    return ast.dump(strip_docstrings(node), annotate_fields=False, include_attributes=False)


def code_hash(source: str, filename: str = "<step>") -> str:
    return sha256_bytes(dump_code(ast.parse(source, filename)).encode())


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    names = []
    for t in targets:
        names.extend(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def common_hashes(source: str, names: Iterable[str], filename: str = "common.py") -> dict[str, str]:
    """Hash of each requested top-level definition of ``common.py``, including the other
    top-level names (functions, constants, imports) it refers to, transitively."""
    tree = ast.parse(source, filename)
    defs: dict[str, list[ast.stmt]] = {}
    for stmt in tree.body:
        for name in _defined_names(stmt):
            defs.setdefault(name, []).append(stmt)
    out: dict[str, str] = {}
    for name in names:
        if name not in defs:
            out[name] = "missing"
            continue
        seen: set[str] = set()
        todo = [name]
        nodes: list[ast.stmt] = []
        while todo:
            current = todo.pop()
            if current in seen or current not in defs:
                continue
            seen.add(current)
            for stmt in defs[current]:
                if stmt not in nodes:
                    nodes.append(stmt)
                    used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
                    todo.extend(sorted(used - seen))
        nodes.sort(key=lambda s: tree.body.index(s))
        out[name] = sha256_bytes("\n".join(dump_code(n) for n in nodes).encode())
    return out


# --- values -----------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """A JSON value that tells apart what a parameter could be: tuple vs list, 1 vs 1.0
    vs True, and is independent of dict order."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value) if not math.isnan(value) else "nan"}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [canonical(v) for v in value]}
    if isinstance(value, dict):
        items = sorted(((canonical(k), canonical(v)) for k, v in value.items()), key=repr)
        return {"dict": [list(kv) for kv in items]}
    if isinstance(value, os.PathLike):
        return {"path": os.fspath(value)}
    return {"repr": f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"}


# --- files ------------------------------------------------------------------------------


class FileHasher:
    """Digests of files (xxh3-128), remembered by (path, size, mtime, inode) in a small JSON
    file so a large unchanged data file is not re-read on every run. Like git's index, a
    file modified within the last two seconds is always re-read (its mtime may not yet
    tell). Entries remembered with another algorithm (sha256, older stores) are re-read."""

    RACY_SECONDS = 2.0

    def __init__(self, cache_file: Path | None) -> None:
        self.cache_file = cache_file
        self._memo: dict[str, Any] = {}
        self._dirty = False
        if cache_file is not None:
            try:
                memo = json.loads(cache_file.read_text())
            except (OSError, ValueError):
                memo = {}
            self._memo = memo if isinstance(memo, dict) else {}

    def hash(self, path: str | os.PathLike[str]) -> str | None:
        """None when the path is not an existing regular file."""
        if not os.path.isfile(path):
            return None
        return self.remember(path, "", digest_file)

    def remember(self, path: str | os.PathLike[str], kind: str, compute: Any) -> str | None:
        """``compute(path)``, remembered by the file's (size, mtime, inode) under ``kind``
        ("" for the digest of its content, "code" for the hash of its syntax tree)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        real = f"{kind}:{os.path.realpath(path)}" if kind else os.path.realpath(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self._memo.get(real)
        if (
            isinstance(known, list)
            and len(known) == 2
            and known[0] == stamp
            and (kind or digest_algorithm(str(known[1])) == DIGEST)
        ):
            return str(known[1])
        value = str(compute(path))
        if time.time() - st.st_mtime > self.RACY_SECONDS:
            self._memo[real] = [stamp, value]
            self._dirty = True
        return value

    def save(self) -> None:
        if not self._dirty or self.cache_file is None:
            return
        from nb2pipe.runtime.fsutil import atomic_write_bytes

        try:
            atomic_write_bytes(self.cache_file, json.dumps(self._memo).encode())
        except OSError:
            pass  # only a cache
        self._dirty = False
