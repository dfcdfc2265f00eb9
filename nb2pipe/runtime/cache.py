"""Cache keys: what a step's result depends on, hashed without running or importing it.

A step is reused when all of these are unchanged: its module's code (syntax tree), the
shared definitions from ``common.py`` it uses, the parameters and derived values it reads
(secrets excepted), its inputs' artifact hashes, the versions of the distributions it
imports, the content of the files it reads (``Step.files`` and any parameter naming an
existing file), its list of outputs, and the Python minor version.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2pipe.runtime.hashing import (
    FileHasher,
    canonical,
    code_hash,
    common_hashes,
    sha256_json,
)
from nb2pipe.runtime.spec import Step
from nb2pipe.runtime.store import ArtifactRef

KEY_VERSION = 2  # 2: inputs named by ArtifactRef.key (value digests), xxh3 file digests


class KeyContext:
    """Memoised facts shared by the keys of one run: code hashes, versions, file hashes."""

    def __init__(self, package_dir: Path, workdir: Path, hasher: FileHasher) -> None:
        self.package_dir = package_dir
        self.workdir = workdir
        self.hasher = hasher
        self._code: dict[str, str] = {}
        self._common: dict[str, str] | None = None
        self._common_source: str | None = None
        self._versions: dict[str, str] = {}

    def step_code(self, name: str) -> str:
        if name not in self._code:
            path = self.package_dir / "steps" / f"{name}.py"
            try:
                code = self.hasher.remember(path, "code", _code_of)
            except (OSError, SyntaxError, ValueError):
                code = None
            self._code[name] = code or "unreadable"
        return self._code[name]

    def common(self, names: tuple[str, ...]) -> dict[str, str]:
        if not names:
            return {}
        if self._common is None:
            self._common = {}
            try:
                self._common_source = (self.package_dir / "common.py").read_text(encoding="utf-8")
            except OSError:
                self._common_source = None
        missing = [n for n in names if n not in self._common]
        if missing:
            if self._common_source is None:
                self._common.update(dict.fromkeys(missing, "missing"))
            else:
                try:
                    self._common.update(common_hashes(self._common_source, missing))
                except SyntaxError:
                    self._common.update(dict.fromkeys(missing, "unreadable"))
        return {n: self._common[n] for n in names}

    def version(self, dist: str) -> str:
        if dist not in self._versions:
            from importlib import metadata

            try:
                self._versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                self._versions[dist] = "not installed"
        return self._versions[dist]

    @property
    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    def file(self, path: str) -> str:
        """Content hash of a file, or of every file under a folder (names and contents;
        hidden entries and ``__pycache__`` left out); "missing" if neither exists."""
        full = self.workdir / path
        if not full.is_dir():
            return self.hasher.hash(full) or "missing"
        parts = []
        for root, dirs, files in os.walk(full):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            for name in sorted(files):
                if not name.startswith("."):
                    child = Path(root, name)
                    rel = child.relative_to(full).as_posix()
                    parts.append([rel, self.hasher.hash(child) or "unreadable"])
        return "dir:" + sha256_json(parts)


def _code_of(path: Path) -> str:
    return code_hash(path.read_text(encoding="utf-8"), str(path))


def _looks_like_file(value: Any, workdir: Path) -> str | None:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
        return None
    try:
        return value if (workdir / value).is_file() else None
    except (OSError, ValueError):
        return None


def key_components(
    pipeline: str,
    step: Step,
    ctx: KeyContext,
    params: Mapping[str, Any],
    inputs: Mapping[str, ArtifactRef],
    secret: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Everything the step's result depends on, as JSON (stored with the cache entry so a
    miss can say what changed)."""
    read = {p: params[p] for p in step.params if p in params and p not in secret}
    files = {f: ctx.file(f) for f in step.files}
    for name, value in read.items():
        path = _looks_like_file(value, ctx.workdir)
        if path is not None:
            files[f"{path} (parameter {name})"] = ctx.file(path)
    return {
        "key_version": KEY_VERSION,
        "pipeline": pipeline,
        "step": step.name,
        "code": ctx.step_code(step.name),
        "common": ctx.common(step.common),
        "params": {k: canonical(v) for k, v in read.items()},
        "inputs": {var: ref.key for var, ref in inputs.items()},
        "distributions": {d: ctx.version(d) for d in step.distributions},
        "files": files,
        "outputs": list(step.outputs),
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
    }


def cache_key(components: Mapping[str, Any]) -> str:
    return sha256_json(components)


def explain(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """Why the step's latest result cannot be reused, in a few words."""
    if not old:
        return "no earlier result"
    reasons: list[str] = []
    if old.get("code") != new["code"]:
        reasons.append("code changed")
    for field, label in (
        ("common", "shared code"),
        ("params", "parameter"),
        ("inputs", "input"),
        ("distributions", "version of"),
        ("files", "file"),
    ):
        before, after = old.get(field) or {}, new[field] or {}
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        if changed:
            reasons.append(f"{label} {', '.join(changed)} changed")
    if not reasons:
        for field in ("outputs", "python", "key_version"):
            if old.get(field) != new.get(field):
                reasons.append(f"{field} changed")
    return "; ".join(reasons) or "cache entry missing"
