"""Helpers of the cluster executors' tests (conftest.py holds only fixtures)."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO / "tests" / "engines") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "engines"))

import engine_envs  # noqa: E402, F401  (re-exported to the tests)

SAMPLES = REPO / "sample_notebooks"
DATA_NB = HERE / "notebooks" / "data_and_crash.py"
PROBE_NB = HERE / "notebooks" / "probe.py"


def convert(notebook: Path, folder: Path, stem: str) -> Path:
    """``notebook`` converted into ``folder/<stem>_<random>`` (a fresh package name)."""
    from nb2pipe import api

    out = folder / f"{stem}_{uuid.uuid4().hex[:8]}"
    api.convert(notebook, out)
    return out


def data_project(tmp: Path) -> Path:
    """A project folder with the data notebook and its two data files."""
    project = tmp / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(DATA_NB, project / DATA_NB.name)
    (project / "data" / "table.csv").write_text("value\n1\n2\n3\n4\n", encoding="utf-8")
    (project / "data" / "lookup.csv").write_text("code\n10\n20\n", encoding="utf-8")
    return project


def run_package(package: Path, runs: Path, **options: Any) -> Any:
    from nb2pipe import api
    from nb2pipe.runtime import run

    pipeline = api.load_package(package)
    return run(pipeline, runs_dir=runs, progress="none", quiet=True, register=False, **options)


def store_problems(store: Path) -> list[str]:
    """Artifacts whose bytes do not match their name, and cache entries naming a missing
    or corrupt artifact: what a killed worker must not leave."""
    from nb2pipe.runtime.hashing import digest_algorithm, digest_file

    found = []
    for path in sorted((store / "objects").glob("??/*")):
        digest = path.name.split(".")[0]
        if digest_file(path, digest_algorithm(digest) or "xxh3_128") != digest:
            found.append(f"corrupt {path}")
    for entry in sorted((store / "steps").glob("*/*.json")):
        for ref in json.loads(entry.read_text(encoding="utf-8"))["outputs"].values():
            target = store / "objects" / ref["hash"][:2] / f"{ref['hash']}.{ref['format']}"
            if not target.exists() or target.stat().st_size != ref["size"]:
                found.append(f"{entry.name} names a missing {target.name}")
    return found


def metrics_of(result: Any) -> dict[str, Any]:
    return dict(result.metrics)


def output_keys(result: Any) -> dict[str, dict[str, str]]:
    """Every output of a run by the digest of its stored bytes. (Not ``ref.key``: the value
    digest of some frames differs between an in-process run and any worker's, -j 2
    included, though their bytes are the same.)"""
    return {step: {k: r.hash for k, r in refs.items()} for step, refs in result.outputs.items()}


def assert_refused_run_recorded(runs: Path, message: str) -> None:
    """The refused run's record is failed with the reason, no step ran, none is left
    pending (it was `running` for ever)."""
    (run_dir,) = [p for p in runs.iterdir() if (p / "run.json").is_file()]
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed" and record["end"] and record["error"] == message
    assert {rec["status"] for rec in record["steps"].values()} == {"skipped"}
    assert all(message in rec["reason"] for rec in record["steps"].values())
