"""``nb2pipe runs list|show|compare|gc``: past runs from their ``run.json``.

A RUN is a run folder, a run id in ``--runs-dir``, a unique prefix of one, or ``latest``.
The facts come back as data; the CLI draws them (rich tables: nb2pipe/frontends/cli/runs_tables.py),
``--json`` prints them for scripts.

``gc --keep N`` keeps the N newest runs of each pipeline (and every run still marked
running), removes the other run folders, the cache entries that only they made or used,
and the artifacts in the store that no kept run or cache entry refers to. Registered
models are not affected: the registry holds its own copies. A store shared by several runs
folders (``--store``) lists them in ``STORE/runs-dirs/`` (each run registers its folder):
what any of their runs uses is kept, and while a run is running anywhere every cache
entry stays and no artifact newer than its start goes.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

from nb2pipe.runtime.errors import Nb2pipeError
from nb2pipe.runtime.metrics import default_direction
from nb2pipe.runtime.store import is_url, register_runs_dir, registered_runs_dirs
from nb2pipe.runtime.supervise import alive, observed

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
DEFAULT_ID = re.compile(r"^\d{8}-\d{6}-")
RESERVED = {"store", "registry", "packages"}  # packages: `nb2pipe run NOTEBOOK`


class RunsError(Nb2pipeError):
    """No such run, an unreadable record, bad options (exit 2)."""


# --- reading ------------------------------------------------------------------------------


class RunDoc(TypedDict, total=False):
    """run.json as read back (the runtime writes it: nb2pipe/runtime/records.py). Every
    mapping below is one after :func:`read_run`, whatever the file held."""

    run_id: str
    pipeline: str
    package: str
    status: str  # running | ok | failed | interrupted
    start: str | None
    end: str | None
    duration: float | None
    command: list[str] | None  # argv as typed, rerunnable from cwd
    cwd: str
    workdir: str
    store: str
    options: dict[str, Any]
    parameters: dict[str, Any]
    secret_parameters: list[str]
    derived: dict[str, Any]
    notebook: str | None
    notebook_sha256: str | None
    notebook_stale: bool
    versions: dict[str, Any]
    steps: dict[str, dict[str, Any]]  # step -> its record (status, start, outputs, error...)
    metrics: dict[str, Any]
    metric_directions: dict[str, str]
    gates: dict[str, str]
    models: dict[str, Any]
    error: str | None


def read_run(run_dir: str | Path) -> RunDoc:
    """THE reader of run.json (for `runs`, `report`, `graph --run`, the Lab and the
    magic): a damaged or hand-edited record keeps what has the expected shape; one that
    cannot be read or is not a run record is a RunsError naming the file."""
    path = Path(run_dir) / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunsError(
            f"cannot read the run record: {exc.strerror or exc}", file=str(path)
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RunsError(f"the run record is not valid JSON ({exc})", file=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict):
        raise RunsError("not an nb2pipe run record (no 'steps')", file=str(path))
    data["steps"] = {k: v for k, v in data["steps"].items() if isinstance(v, dict)}
    for key in ("metrics", "parameters", "derived", "options"):
        if not isinstance(data.get(key), dict):
            data[key] = {}
    if not isinstance(data.get("run_id"), str):
        data["run_id"] = Path(run_dir).name
    return cast(RunDoc, observed(data, Path(run_dir)))  # a dead run's process: crashed


def _read(run_dir: Path) -> RunDoc | None:
    try:
        return read_run(run_dir)
    except RunsError:
        return None


def all_runs(runs_dir: str | Path | None = None) -> list[tuple[Path, RunDoc]]:
    """Every readable run under ``runs_dir``, oldest first (by start time, then id)."""
    base = _where(runs_dir)
    if not base.is_dir():
        return []
    found = []
    for child in base.iterdir():
        if child.name in RESERVED or not child.is_dir():
            continue
        rec = _read(child)
        if rec is not None:
            found.append((child, rec))
    return sorted(found, key=lambda pr: (str(pr[1].get("start") or ""), pr[0].name))


def _where(runs_dir: str | Path | None) -> Path:
    from nb2pipe.runtime.project import runs_location

    return runs_location(runs_dir).path


def resolve_run(run: str, runs_dir: str | Path | None = None) -> tuple[Path, RunDoc]:
    """THE way a RUN is named, for `runs show|compare`, `report`, `graph --run`, the Lab
    and the magic: a run folder, ``latest``, a run id in ``runs_dir`` (default: the
    project's runs folder) or a unique prefix of one. Returns the folder and its record
    (:func:`read_run`)."""
    runs_dir = _where(runs_dir)
    given = Path(run)
    if (given / "run.json").is_file():
        return given, read_run(given)
    runs = all_runs(runs_dir)
    if run == "latest":
        if not runs:
            raise RunsError(f"no runs in {runs_dir}", hint="run the pipeline first")
        return runs[-1]
    if _RUN_ID.fullmatch(run):
        if (runs_dir / run / "run.json").is_file():  # a damaged record says why
            return runs_dir / run, read_run(runs_dir / run)
        matches = [pr for pr in runs if pr[0].name.startswith(run)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise RunsError(
                f"{run!r} matches {len(matches)} runs ({', '.join(p.name for p, _ in matches[:4])}"
                f"{', ...' if len(matches) > 4 else ''})",
                hint="give more of the run id",
            )
    raise RunsError(
        f"no run {run!r} in {runs_dir}",
        hint="`nb2pipe runs list` shows the runs; give a run id, a folder or latest",
    )


def command_line(rec: dict[str, Any]) -> str:
    """The run's command, shell-quoted: paste it to run again (from its ``cwd``)."""
    import shlex

    command = rec.get("command")
    return shlex.join(map(str, command)) if isinstance(command, list) else ""


def _counts(rec: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in rec.get("steps", {}).values():
        status = str((step or {}).get("status", "?"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _directions(rec: dict[str, Any]) -> dict[str, str]:
    dirs = dict(rec.get("metric_directions") or {})
    for m in rec.get("metrics") or {}:
        dirs.setdefault(m, default_direction(m))
    return dirs


def summary(run_dir: Path, rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": rec.get("run_id", run_dir.name),
        "pipeline": rec.get("pipeline"),
        "status": rec.get("status"),
        "start": rec.get("start"),
        "duration": rec.get("duration"),
        "steps": _counts(rec),
        "parameters": rec.get("parameters") or {},
        "metrics": rec.get("metrics") or {},
        "metric_directions": _directions(rec),
        "models": rec.get("models") or {},
        "error": rec.get("error"),
        "path": str(run_dir),
    }


def list_runs(
    runs_dir: str | Path, *, pipeline: str | None = None, limit: int | None = 20
) -> list[dict[str, Any]]:
    """Newest first."""
    runs = [summary(p, r) for p, r in all_runs(runs_dir)]
    if pipeline:
        runs = [r for r in runs if r["pipeline"] == pipeline]
    runs.reverse()
    return runs[:limit] if limit else runs


def show(run: str, runs_dir: str | Path) -> dict[str, Any]:
    run_dir, rec = resolve_run(run, runs_dir)
    out = summary(run_dir, rec)
    out["record"] = rec
    return out


def compare(runs: Sequence[str], runs_dir: str | Path) -> dict[str, Any]:
    if len(runs) < 2:
        raise RunsError("compare needs at least two runs", hint="nb2pipe runs compare RUN RUN...")
    found = [resolve_run(r, runs_dir) for r in runs]
    ids = [rec.get("run_id", p.name) for p, rec in found]
    recs = [rec for _, rec in found]
    params = _union(r.get("parameters") or {} for r in recs)
    metrics = _union(r.get("metrics") or {} for r in recs)
    steps = _union(r.get("steps") or {} for r in recs)
    dirs: dict[str, str] = {}
    for r in recs:
        dirs.update(_directions(r))
    out_metrics: dict[str, Any] = {}
    for m in metrics:
        values = [(r.get("metrics") or {}).get(m) for r in recs]
        out_metrics[m] = {
            "direction": dirs.get(m, default_direction(m)),
            "values": values,
            "best": _best(ids, values, dirs.get(m, default_direction(m))),
        }
    return {
        "runs": [summary(p, rec) for p, rec in found],
        "parameters": {
            k: {
                "values": [(r.get("parameters") or {}).get(k) for r in recs],
                "differs": len(
                    {
                        json.dumps((r.get("parameters") or {}).get(k), sort_keys=True, default=str)
                        for r in recs
                    }
                )
                > 1,
            }
            for k in params
        },
        "metrics": out_metrics,
        "steps": {
            s: {
                "status": [((r.get("steps") or {}).get(s) or {}).get("status") for r in recs],
                "duration": [((r.get("steps") or {}).get(s) or {}).get("duration") for r in recs],
            }
            for s in steps
        },
    }


def _union(maps: Iterable[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for m in maps:
        keys.update(dict.fromkeys(m))
    return list(keys)


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _best(ids: list[str], values: list[Any], direction: str) -> str | None:
    nums = [(n, i) for i, n in zip(ids, (_number(v) for v in values), strict=True) if n is not None]
    if len(nums) < 2:
        return None
    pick = max(nums) if direction == "higher" else min(nums)
    if all(n == pick[0] for n, _ in nums):
        return None
    return pick[1]


# --- garbage collection -------------------------------------------------------------------


@dataclass
class GcResult:
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    artifacts: int = 0
    bytes: int = 0
    entries: int = 0
    dry_run: bool = False
    shared_with: list[str] = field(default_factory=list)  # other runs folders of the store

    def to_json(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "removed": self.removed,
            "artifacts_removed": self.artifacts,
            "bytes_freed": self.bytes,
            "cache_entries_removed": self.entries,
            "dry_run": self.dry_run,
            "store_shared_with": self.shared_with,
        }


def _hashes(refs: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(refs, dict):
        for ref in refs.values():
            if isinstance(ref, dict) and isinstance(ref.get("hash"), str):
                out.add(ref["hash"])
    return out


def _running(rec: dict[str, Any]) -> bool:
    """Marked running, and not known dead (its process is gone or its pid reused)."""
    return rec.get("status") == "running" and alive(rec)


def gc(
    runs_dir: str | Path,
    keep: int,
    *,
    store: str | Path | None = None,
    dry_run: bool = False,
) -> GcResult:
    if keep < 0:
        raise RunsError("--keep must be >= 0")
    if store is not None and is_url(str(store)):
        raise RunsError(
            f"runs gc cleans a store folder, not {store}: expire that store's objects with "
            "its own lifecycle rules (runs gc still removes old run records without --store)"
        )
    base = Path(runs_dir)
    store_dir = Path(store) if store is not None else base / "store"
    runs = all_runs(base)
    by_pipeline: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for pr in runs:
        by_pipeline.setdefault(str(pr[1].get("pipeline")), []).append(pr)
    kept: list[tuple[Path, dict[str, Any]]] = []
    removed: list[tuple[Path, dict[str, Any]]] = []
    for group in by_pipeline.values():
        newest = group[len(group) - keep :] if keep else []
        for pr in group:
            if pr in newest or _running(pr[1]):
                kept.append(pr)
            else:
                removed.append(pr)
    result = GcResult(
        kept=[p.name for p, _ in kept], removed=[p.name for p, _ in removed], dry_run=dry_run
    )
    # Runs of the other runs folders sharing the store are all kept (they are not ours).
    here = base.resolve()
    others = [d for d in registered_runs_dirs(store_dir) if d != here and d.is_dir()]
    result.shared_with = [str(d) for d in others]
    shared = [pr for d in others for pr in all_runs(d)]
    kept_ids = {str(r.get("run_id", p.name)) for p, r in kept + shared}
    live: set[str] = set()
    used_keys: set[str] = set()
    running_since: str | None = None
    for _, rec in kept + shared:
        for step in (rec.get("steps") or {}).values():
            step = step or {}
            live |= _hashes(step.get("inputs")) | _hashes(step.get("outputs"))
            if isinstance(step.get("cache_key"), str):
                used_keys.add(step["cache_key"])
        if _running(rec):
            start = str(rec.get("start") or "")
            running_since = min(running_since or start, start)
    # cache entries: kept when a kept run made or used them
    doomed_entries: list[Path] = []
    steps_dir = store_dir / "steps"
    if steps_dir.is_dir():
        for path in steps_dir.glob("*/*.json"):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(entry, dict):
                continue
            key = (
                entry.get("key") if path.name.endswith(".latest.json") else path.name.split(".")[-2]
            )
            # While a run is running (here or in a folder sharing the store) every entry
            # stays: the ones it has just used may not be in its record yet.
            if running_since or str(entry.get("run_id")) in kept_ids or key in used_keys:
                live |= _hashes(entry.get("outputs"))
            else:
                doomed_entries.append(path)
    cutoff = None
    if running_since:
        from nb2pipe.runtime.records import parse_iso

        try:
            cutoff = parse_iso(running_since)
        except ValueError:
            cutoff = 0.0
    doomed_objects: list[tuple[Path, int]] = []
    objects = store_dir / "objects"
    if objects.is_dir():
        for path in objects.glob("*/*"):
            digest = path.name.split(".")[0]
            if path.parent.name == "tmp" and path.suffix == ".tmp" and path.is_file():
                st = path.stat()  # left by a killed run; a write in progress keeps it fresh
                if st.st_mtime < time.time() - 3600:
                    doomed_objects.append((path, st.st_size))
                continue
            if len(digest) not in (32, 64) or digest in live or not path.is_file():
                continue
            st = path.stat()
            if cutoff is not None and st.st_mtime >= cutoff - 1:
                continue  # may belong to a run still running
            doomed_objects.append((path, st.st_size))
    result.artifacts = len(doomed_objects)
    result.bytes = sum(size for _, size in doomed_objects)
    result.entries = len(doomed_entries)
    if dry_run:
        return result
    if store_dir.is_dir():
        register_runs_dir(store_dir, base)
    for path, _ in removed:
        shutil.rmtree(path, ignore_errors=True)
    for path in doomed_entries:
        path.unlink(missing_ok=True)
    for path, _ in doomed_objects:
        path.unlink(missing_ok=True)
    for folder in list(objects.glob("*")) if objects.is_dir() else []:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
    return result


def _finite(value: Any) -> Any:
    """NaN and infinities (a parameter or metric may be one) as strings: JSON has none."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """Strict JSON (``--json``): NaN and infinities become "nan", "inf", "-inf"."""
    return json.dumps(_finite(data), indent=2, default=str, allow_nan=False)
