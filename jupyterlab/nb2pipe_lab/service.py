"""What the endpoints do, without HTTP: paths inside the server's root, the live analysis of
a notebook's current content, and background jobs (convert, run, verify) in worker processes.

Analysis (``inspect``, ``graph``) runs in the server process: it is pure and fast. Anything
that writes files, imports generated code or runs user code runs in a worker subprocess
(``python -m nb2pipe_lab.worker``) whose working directory is the notebook's folder, as if the
user had typed ``nb2pipe ...`` there: the server's own imports and working directory are never
touched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.errors import Nb2pipeError

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
METADATA_KEY = "nb2pipe"  # notebook metadata: {"output": "pipelines/wine"}


class LabError(Nb2pipeError):
    """A bad request from the panel: a path outside the root, an unknown job, ..."""


def error_json(exc: BaseException, file: str | None = None) -> dict[str, Any]:
    """An error as the panel shows it: one line, the cell and line it concerns, the fix.
    Never a traceback."""
    if isinstance(exc, Nb2pipeError):
        if file is not None and exc.file is not None:
            exc.file = file
        return {
            "kind": type(exc).__name__,
            "message": " ".join(str(exc.message).split()),
            "cell": exc.cell,
            "line": exc.line,
            "hint": exc.hint,
            "text": str(exc),
        }
    text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
    return {
        "kind": "InternalError",
        "message": f"nb2pipe failed unexpectedly ({text}); the Jupyter server log has details",
        "cell": None,
        "line": None,
        "hint": None,
        "text": text,
    }


class Workspace:
    """The server's root folder; every path the panel sends is resolved inside it."""

    def __init__(self, root_dir: str | os.PathLike[str]) -> None:
        self.root = Path(root_dir).expanduser().resolve()

    def notebook(self, api_path: Any, *, must_exist: bool = True) -> Path:
        if not isinstance(api_path, str) or not api_path.strip("/"):
            raise LabError("no notebook path given")
        if "\x00" in api_path:
            raise LabError("invalid notebook path")
        path = (self.root / api_path.strip("/")).resolve()
        if not path.is_relative_to(self.root):
            raise LabError(f"{api_path} is outside the server's root folder")
        if path.suffix not in (".ipynb", ".py"):
            raise LabError(f"{api_path} is not a notebook", hint="open a .ipynb notebook")
        if must_exist and not path.is_file():
            raise LabError(f"{api_path}: no such notebook", hint="save the notebook first")
        return path

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def output(self, notebook: Path, output: Any) -> Path:
        """The package folder: relative to the notebook's folder, inside the root, and an
        importable dotted path (``pipelines/wine`` is imported as ``pipelines.wine``)."""
        if output in (None, ""):
            output = default_output(notebook)
        if not isinstance(output, str) or os.path.isabs(output) or "\\" in output:
            raise LabError(
                f"output folder {output!r} must be relative to the notebook's folder",
                hint="for example pipelines/" + stem_ident(notebook),
            )
        parts = [p for p in output.strip().strip("/").split("/") if p not in ("", ".")]
        if not parts or not all(IDENT.fullmatch(p) for p in parts):
            raise LabError(
                f"output folder {output!r} is not an importable package path",
                hint="use identifiers separated by '/', for example pipelines/"
                + stem_ident(notebook),
            )
        path = notebook.parent.joinpath(*parts).resolve()
        if not path.is_relative_to(self.root):
            raise LabError(f"output folder {output!r} is outside the server's root folder")
        return path


def stem_ident(notebook: Path) -> str:
    name = re.sub(r"\W+", "_", notebook.stem).strip("_").lower() or "pipeline"
    return name if IDENT.fullmatch(name) else f"nb_{name}"


def default_output(notebook: Path) -> str:
    return f"pipelines/{stem_ident(notebook)}"


# -- live analysis -------------------------------------------------------------------------


def _read_content(path: Path, content: Mapping[str, Any] | None, folder: str) -> Path:
    """The file to analyse: the notebook's unsaved content when given (written to a scratch
    file of the same name, so the pipeline keeps its name), else the saved file."""
    if content is None:
        return path
    if not isinstance(content, Mapping) or not isinstance(content.get("cells"), list):
        raise LabError("the notebook content sent is not a notebook (no cells)")
    scratch = Path(folder) / (path.stem + ".ipynb")
    scratch.write_text(json.dumps(content), encoding="utf-8")
    return scratch


def cell_plans(layout: Any) -> list[dict[str, Any]]:
    return [
        {
            "index": p.cell.index,
            "id": p.cell.cell_id,
            "type": p.cell.cell_type,
            "role": p.role,
            "step": p.step,
            "after": list(p.after),
        }
        for p in layout.cells
    ]


def inspect(
    ws: Workspace, api_path: str, content: Mapping[str, Any] | None = None, *, graph: bool = True
) -> dict[str, Any]:
    """What the panel shows: the inspect data, each cell's role and step, and the DAG drawn
    by nb2pipe's own renderer (the HTML fragment of ``%nb2pipe graph``)."""
    from nb2pipe import compiler
    from nb2pipe.compiler.summary import inspect_data
    from nb2pipe.viz.graph import from_pipeline
    from nb2pipe.viz.pages import dag_fragment

    path = ws.notebook(api_path, must_exist=content is None)
    shown = ws.relative(path) if path.is_relative_to(ws.root) else str(api_path)
    started = time.perf_counter()
    result: dict[str, Any] = {"ok": False, "path": shown, "cells": None}
    with tempfile.TemporaryDirectory(prefix="nb2pipe-lab-") as folder:
        try:
            layout = compiler.front(_read_content(path, content, folder))
            result["cells"] = cell_plans(layout)
            pipe = compiler.compile(layout).pipeline
        except Nb2pipeError as exc:
            result["error"] = error_json(exc, shown)
            result["seconds"] = round(time.perf_counter() - started, 3)
            return result
    data = inspect_data(pipe)
    data["notebook"] = shown
    result.update(ok=True, inspect=data)
    if graph:
        result["graph"] = dag_fragment(from_pipeline(pipe, source=shown))
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def graph_html(ws: Workspace, api_path: str, content: Mapping[str, Any] | None = None) -> str:
    res = inspect(ws, api_path, content, graph=True)
    if not res["ok"]:
        raise LabError(res["error"]["text"])
    return str(res["graph"])


# -- background jobs -----------------------------------------------------------------------


@dataclass
class Job:
    id: str
    kind: str  # "convert" | "run" | "verify"
    notebook: Path
    output: Path | None
    cwd: Path
    result_file: Path
    log_file: Path
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.time)
    dag: Any = None  # run: the DAG of the notebook as it was when the run started

    def result(self) -> dict[str, Any] | None:
        """The worker's final answer, once it wrote one."""
        try:
            return json.loads(self.result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def phase(self) -> str | None:
        """What the worker is doing now ("converting", "running", ...), as it last said."""
        try:
            return self.result_file.with_suffix(".phase").read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def crashed(self) -> dict[str, Any] | None:
        """An error when the worker ended without an answer (killed, or broke before it could
        write one): its last line of output says why."""
        code = self.proc.poll()
        if code is None or self.result() is not None:
            return None
        tail = ""
        try:
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
            tail = next((x.strip() for x in reversed(lines) if x.strip()), "")
        except OSError:
            pass
        return {
            "kind": "WorkerError",
            "message": f"the {self.kind} worker stopped (exit code {code})"
            + (f": {tail[:300]}" if tail else ""),
            "cell": None,
            "line": None,
            "hint": None,
            "text": tail[:300],
        }


class Jobs:
    """Worker processes started by this server, by id. Finished ones are kept (they are small)
    so a panel that polls late still gets its answer."""

    def __init__(self, scratch: str | os.PathLike[str] | None = None) -> None:
        self.scratch = Path(scratch or tempfile.mkdtemp(prefix="nb2pipe-lab-jobs-"))
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(
        self,
        kind: str,
        notebook: Path,
        output: Path | None,
        *,
        job_id: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> Job:
        job_id = job_id or new_id(kind)
        if not JOB_ID.fullmatch(job_id):
            raise LabError(f"invalid job id {job_id!r}")
        cwd = notebook.parent
        result_file = self.scratch / f"{job_id}.json"
        log_file = self.scratch / f"{job_id}.log"
        argv = [
            sys.executable, "-m", "nb2pipe_lab.worker", kind,
            "--notebook", notebook.name, "--result", str(result_file), "--id", job_id,
        ]  # fmt: skip
        if output is not None:
            argv += ["--output", os.path.relpath(output, cwd)]
        argv += list(extra)
        env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(
                argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,
            )  # fmt: skip
        job = Job(job_id, kind, notebook, output, cwd, result_file, log_file, proc)
        with self._lock:
            self._jobs[job_id] = job
        return job

    def get(self, job_id: Any, kind: str | None = None) -> Job | None:
        if not isinstance(job_id, str):
            return None
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and (kind is None or job.kind == kind) else None

    def stop_all(self) -> None:
        """Stop the workers still running and remove the scratch folder (server exit)."""
        import shutil

        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.proc.poll() is None:
                job.proc.terminate()
        for job in jobs:
            try:
                job.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                job.proc.kill()
        shutil.rmtree(self.scratch, ignore_errors=True)


def new_id(kind: str) -> str:
    if kind == "run":  # the runtime's own format: sortable, UTC
        t = time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(t))
        return f"{stamp}-{int(t * 1000) % 1000:03d}-{uuid.uuid4().hex[:4]}"
    return f"{kind}-{uuid.uuid4().hex[:12]}"


# -- run status --------------------------------------------------------------------------


def runs_dir(notebook: Path) -> Path:
    """Where the panel's runs are recorded: the project's runs folder, as ``nb2pipe run``
    typed in the notebook's folder chooses it (nb2pipe.runtime.project)."""
    from nb2pipe.runtime.project import runs_location

    return runs_location(start=notebook.parent, fallback=notebook.parent).path


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """The run's record (nb2pipe.mlops.runs.read_run, the one reader), None if unreadable."""
    from nb2pipe.mlops.runs import RunsError, read_run

    try:
        return dict(read_run(run_dir))
    except RunsError:
        return None


def step_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    steps = record.get("steps")
    for name, rec in steps.items() if isinstance(steps, Mapping) else []:
        rec = rec if isinstance(rec, Mapping) else {}
        error = rec.get("error") if isinstance(rec.get("error"), Mapping) else {}
        rows.append(
            {
                "step": str(name),
                "status": str(rec.get("status", "pending")),
                "duration": rec.get("duration") if isinstance(rec.get("duration"), int | float) else None,
                "reason": rec.get("reason") if isinstance(rec.get("reason"), str) else None,
                "cached_from": rec.get("cached_from") if isinstance(rec.get("cached_from"), str) else None,
                "error": (
                    {
                        "message": str(error.get("message", "")),
                        "cell": error.get("cell") if isinstance(error.get("cell"), int) else None,
                        "line": error.get("line") if isinstance(error.get("line"), int) else None,
                    }
                    if error
                    else None
                ),
            }
        )  # fmt: skip
    return rows


def run_status(ws: Workspace, notebook: Path, run_id: str, job: Job | None) -> dict[str, Any]:
    """The live state of a run: from the worker's answer when it is done, else from the run's
    run.json (rewritten by the runtime while steps run), else "starting"."""
    if not JOB_ID.fullmatch(run_id):
        raise LabError(f"invalid run id {run_id!r}")
    run_dir = runs_dir(notebook) / run_id
    record = read_record(run_dir)
    answer = job.result() if job else None
    crashed = job.crashed() if job else None
    out: dict[str, Any] = {"run_id": run_id, "path": ws.relative(notebook)}
    if answer is not None and not answer.get("ok", True) and answer.get("phase") != "run":
        out.update(status=answer.get("status") or "error", error=answer.get("error"), done=True)
        out["convert"] = answer.get("convert")
        return out
    if crashed is not None:
        out.update(status="error", error=crashed, done=True)
        return out
    if record is None:
        if job is None:
            error = {"kind": "LabError", "message": f"no run {run_id} beside this notebook",
                     "cell": None, "line": None, "hint": None, "text": ""}  # fmt: skip
            out.update(status="error", done=True, error=error)
        elif answer is not None:
            error = answer.get("error") or {"kind": "RunError", "cell": None, "line": None,
                                            "message": "the run wrote no record", "hint": None,
                                            "text": ""}  # fmt: skip
            out.update(status="error", done=True, error=error)
        else:
            out.update(status=job.phase() or "starting", done=False)
        return out
    status = str(record.get("status", "running"))
    finished = status != "running" and (job is None or answer is not None)
    out.update(
        status=status if finished or status == "running" else "running",
        done=finished,
        steps=step_rows(record),
        metrics=record.get("metrics") if isinstance(record.get("metrics"), Mapping) else {},
        error=(
            {
                "kind": "RunError",
                "message": str(record["error"]),
                "cell": None,
                "line": None,
                "hint": None,
                "text": str(record["error"]),
            }
            if record.get("error")
            else None
        ),  # fmt: skip
        duration=record.get("duration"),
        report=finished,
    )
    if answer is not None:
        out["convert"] = answer.get("convert")
    return out


def run_graph(job: Job | None, record: Mapping[str, Any] | None) -> str | None:
    """The DAG coloured by the run, drawn by nb2pipe's renderer."""
    if record is None:
        return None
    from nb2pipe.viz.graph import with_run
    from nb2pipe.viz.pages import dag_fragment
    from nb2pipe.viz.report import dag_from_record

    dag = job.dag if job is not None and job.dag is not None else dag_from_record(record)
    coloured, _ = with_run(dag, record)
    return dag_fragment(coloured)


def report_html(notebook: Path, run_id: str) -> str:
    """The run report (``nb2pipe report``): the worker writes it beside run.json when the run
    ends; built here from the notebook if it is missing."""
    if not JOB_ID.fullmatch(run_id):
        raise LabError(f"invalid run id {run_id!r}")
    run_dir = runs_dir(notebook) / run_id
    saved = run_dir / "report.html"
    if saved.is_file():
        return saved.read_text(encoding="utf-8")
    from nb2pipe.viz.report import report

    html, _, _ = report(str(run_dir), runs_dir=runs_dir(notebook), pipeline=notebook)
    return html
