"""Data files on workers that share no folder with the project.

A step's data files are what its cache key hashes: ``Step.files`` (literal paths the
compiler found, relative to the working folder; a folder stands for every file under it)
and any parameter it reads whose value names an existing file. Before a task is
submitted, each is uploaded to the store once per content (``datafiles/<xx>/<digest>``);
the worker copies them into a scratch folder with the same relative paths and runs the step
there, so relative reads find the same bytes and cache keys do not change. Absolute paths
are read where they are (they must exist on the worker).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from nb2pipe.runtime.cache import _looks_like_file
from nb2pipe.runtime.fsutil import atomic_write_bytes
from nb2pipe.runtime.hashing import digest_bytes, digest_file
from nb2pipe.runtime.store import Store

FOLDER = "datafiles"


def _object(digest: str) -> str:
    return f"{FOLDER}/{digest[:2]}/{digest}"


def paths_of(task: Any) -> list[str]:
    """The relative paths of the files the task's step reads (folders expanded)."""
    workdir = Path(task.workdir)
    wanted = list(task.step.files)
    for value in task.kwargs.values():
        path = _looks_like_file(value, workdir)
        if path is not None:
            wanted.append(path)
    found: list[str] = []
    for rel in wanted:
        if os.path.isabs(rel):
            continue
        full = workdir / rel
        if full.is_file():
            found.append(PurePosixPath(Path(rel)).as_posix())
        elif full.is_dir():
            for root, dirs, files in os.walk(full):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
                for name in sorted(files):
                    if not name.startswith("."):
                        child = Path(root, name).relative_to(workdir)
                        found.append(PurePosixPath(child).as_posix())
    return sorted(set(found))


class Uploader:
    """Uploads data files to the store, each content once (remembered per run)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.known: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> digest

    def stage(self, task: Any) -> tuple[tuple[str, str], ...]:
        """``(relative path, digest)`` of the task's data files, uploaded."""
        staged = []
        for rel in paths_of(task):
            full = Path(task.workdir) / rel
            st = full.stat()
            memo = (str(full), st.st_size, st.st_mtime_ns)
            digest = self.known.get(memo)
            if digest is None:
                digest = digest_file(full)
                if self.store.document_size(_object(digest)) != st.st_size:
                    self.store.write_bytes(_object(digest), full.read_bytes())
                self.known[memo] = digest
            staged.append((rel, digest))
        return tuple(staged)


def scratch_root(run_dir: str) -> Path:
    """The worker's scratch folder of a run (under its temporary folder)."""
    key = hashlib.sha256(run_dir.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "nb2pipe-scratch" / key


def clean_scratch(run_dirs: list[str]) -> None:
    """Remove the scratch folders of these runs (on the worker it runs on)."""
    for run_dir in run_dirs:
        shutil.rmtree(scratch_root(run_dir), ignore_errors=True)


def materialise(files: tuple[tuple[str, str], ...], store: Store, task: Any) -> str:
    """Copy the task's data files from the store into the scratch folder; the folder the
    step runs in (where the files' relative paths lead)."""
    root = scratch_root(task.run_dir)
    parts = Path(task.workdir).parts[1:]
    up = max((_ups(rel) for rel, _ in files), default=0)
    up = min(up, len(parts))
    cwd = root.joinpath("work", *parts[len(parts) - up :])
    cwd.mkdir(parents=True, exist_ok=True)
    for rel, digest in files:
        target = Path(os.path.normpath(cwd / rel))
        try:
            if target.stat().st_size >= 0 and digest_file(target) == digest:
                continue
        except OSError:
            pass
        data = store.read_document(_object(digest))
        if data is None or digest_bytes(data) != digest:
            raise OSError(
                f"data file {rel} is missing from the store or corrupt ({digest[:12]}...)"
            )
        atomic_write_bytes(target, data)
    return str(cwd)


def _ups(rel: str) -> int:
    count = 0
    for part in PurePosixPath(os.path.normpath(rel)).parts:
        if part != "..":
            break
        count += 1
    return count
