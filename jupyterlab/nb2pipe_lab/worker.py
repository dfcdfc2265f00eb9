"""The worker process the server starts for convert, run and verify.

``python -m nb2pipe_lab.worker ACTION --notebook NB --result FILE [--output DIR] [--id ID]
[--params FILE]``,
run in the notebook's folder (so paths, the package's import path and ``runs/`` are what
``nb2pipe`` typed there would use). It writes one JSON answer to FILE (atomically) and its
current phase to FILE with the suffix ``.phase``; nb2pipe's own errors become
``{"ok": false, "error": {...}}`` naming cell and line, never a traceback (an unexpected
exception's traceback goes to the worker's log only). SIGINT (the panel's Cancel) stops it
as Ctrl-C would: a run is recorded as interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nb2pipe_lab.service import error_json, runs_dir


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _phase(result: Path, phase: str) -> None:
    _write(result.with_suffix(".phase"), phase)


def _diagnostics(pipe: Any) -> list[dict[str, Any]]:
    return [
        {"severity": d.severity, "message": d.message, "cell": d.cell, "line": d.line}
        for d in pipe.diagnostics
    ]


def convert(notebook: str, output: str) -> dict[str, Any]:
    from nb2pipe import api

    pipe, out, files = api.convert(notebook, output)
    return {
        "ok": True,
        "phase": "convert",
        "pipeline": pipe.name,
        "output": Path(out).as_posix(),
        "files": files,
        "steps": len(pipe.steps),
        "diagnostics": _diagnostics(pipe),
    }


def run(
    notebook: str, output: str, run_id: str, result: Path, params: Sequence[str] = ()
) -> dict[str, Any]:
    from nb2pipe import api
    from nb2pipe.runtime import run as run_pipeline

    _phase(result, "converting")
    try:
        converted = convert(notebook, output)
    except Exception as exc:
        _log(exc)
        return {"ok": False, "phase": "convert", "error": error_json(exc, notebook)}
    _phase(result, "starting")
    try:
        spec = api.load_package(output)
        _phase(result, "running")
        res = run_pipeline(  # runs_dir: the project's runs folder, as `nb2pipe run` here
            spec, run_id=run_id, progress="plain", param_args=list(params)
        )
    except Exception as exc:
        _log(exc)
        return {"ok": False, "phase": "run-start", "error": error_json(exc), "convert": converted}
    report = _report(res.run_dir, notebook)
    return {
        "ok": res.ok,
        "phase": "run",
        "status": res.status,
        "exit_code": res.exit_code,
        "error": res.error,
        "convert": converted,
        "report": report,
    }


def _report(run_dir: Path, notebook: str) -> bool:
    """``nb2pipe report`` of the run, saved beside its run.json."""
    try:
        from nb2pipe.viz.graph import write_text
        from nb2pipe.viz.report import report

        html, _, _ = report(str(run_dir), pipeline=notebook)
        write_text(Path(run_dir) / "report.html", html)
        return True
    except Exception as exc:  # noqa: BLE001 - the run's result stands without its report
        _log(exc)
        return False


def verify(notebook: str) -> dict[str, Any]:
    """``nb2pipe verify NOTEBOOK``: the notebook as it is now, converted aside, both run."""
    from nb2pipe.verify import verify as run_verify
    from nb2pipe.verify.report import as_json

    res = run_verify(notebook)
    data = json.loads(as_json(res))
    data["summary"] = res.summary()
    data["phase"] = "verify"
    return data


def _log(exc: BaseException) -> None:
    traceback.print_exception(exc, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nb2pipe_lab.worker")
    parser.add_argument("action", choices=("convert", "run", "verify"))
    parser.add_argument("--notebook", required=True)
    parser.add_argument("--result", required=True, type=Path)
    parser.add_argument("--output")
    parser.add_argument("--id")
    parser.add_argument("--params", type=Path, help="a JSON list of NAME=VALUE (as -p)")
    args = parser.parse_args(argv)
    # Ctrl-C semantics even when started with SIGINT ignored (then Python would keep it so)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if args.action == "convert":
            _phase(args.result, "converting")
            answer = convert(args.notebook, args.output)
        elif args.action == "run":
            params = json.loads(args.params.read_text(encoding="utf-8")) if args.params else []
            answer = run(args.notebook, args.output, args.id, args.result, params)
        else:
            _phase(args.result, "verifying")
            answer = verify(args.notebook)
    except KeyboardInterrupt:  # cancelled: the run's record (if it has one yet) says more
        where = runs_dir(Path(args.notebook).resolve())  # the project's, as the run's
        recorded = args.action == "run" and (where / str(args.id) / "run.json").is_file()
        answer = {"ok": False, "phase": "run" if recorded else "cancelled",
                  "status": "interrupted", "exit_code": 130,
                  "error": {"kind": "Interrupted", "message": f"the {args.action} was cancelled",
                            "cell": None, "line": None, "hint": None, "text": "cancelled"}}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - every failure becomes an answer
        _log(exc)
        answer = {"ok": False, "phase": args.action, "error": error_json(exc, args.notebook)}
    _write(args.result, json.dumps(answer, default=repr))
    _phase(args.result, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
