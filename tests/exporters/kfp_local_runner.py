"""Run an exported KFP pipeline with kfp.local (run by the kfp venv's Python, not pytest).

    python kfp_local_runner.py PIPELINE.py PIPELINE_ROOT '{"param": value}' SUMMARY.json

SubprocessRunner(use_venv=False) runs each component with this interpreter, where the
packages are installed (its default makes a venv and installs them: the network). The
summary lists, per task that ran, its executor output (artifacts with their metadata,
metrics included), and whether the pipeline failed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path


def main() -> int:
    source, root, args, summary = sys.argv[1:5]
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    spec = importlib.util.spec_from_file_location("exported_pipeline", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    error = None
    try:
        module.pipeline(**json.loads(args))
    except Exception as exc:  # noqa: BLE001 - the failure is what some tests expect
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    tasks = {}
    for out in sorted(Path(root).glob("*/*/executor_output.json")):
        tasks[out.parent.name] = json.loads(out.read_text())
    Path(summary).write_text(json.dumps({"error": error, "tasks": tasks}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
