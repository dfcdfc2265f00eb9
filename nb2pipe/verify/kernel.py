"""Execute the instrumented notebook with papermill on a kernel of this interpreter."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2pipe.errors import Nb2pipeError
from nb2pipe.verify.instrument import META

KERNEL = "python3"
#: A kernel that died before answering kernel_info ran no cell: started again (the ports
#: jupyter_client picks can be taken by another process before the kernel binds them).
NOT_STARTED = "Kernel died before replying to kernel_info"
STARTS = 3


class VerifyError(Nb2pipeError):
    """verify cannot start: no usable kernel, bad parameters, a package that cannot be
    loaded (exit code 2)."""


@dataclass
class NotebookRun:
    seconds: float
    error: str | None = None  # one line: cell, exception type and message
    cell: int | None = None  # the original 1-based cell that failed
    output: Path | None = None  # the executed copy


def kernel_spec(folder: Path) -> Path:
    """A ``python3`` kernel spec running this very interpreter, in ``folder/kernels``.

    Put first on JUPYTER_PATH while papermill runs, it shadows any ``python3`` spec of the
    user, the environment or the system: the notebook then computes with exactly the
    libraries the pipeline uses, whatever is registered where."""
    import importlib.util
    import json

    if importlib.util.find_spec("ipykernel") is None:
        raise VerifyError(
            "ipykernel is not installed in this environment",
            hint=f"{sys.executable} -m pip install ipykernel",
        )
    spec_dir = folder / "kernels" / KERNEL
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python {sys.version_info[0]}.{sys.version_info[1]} (nb2pipe verify)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return folder


def execute(
    notebook: Any,
    workdir: Path,
    scratch: Path,
    *,
    parameters: dict[str, Any],
    timeout: float | None,
) -> NotebookRun:
    """Run ``notebook`` (an nbformat node) in ``workdir``; return how it went."""
    import nbformat

    jupyter_dir = kernel_spec(scratch / "jupyter")
    src = scratch / "instrumented.ipynb"
    out = scratch / "executed.ipynb"
    nbformat.write(notebook, str(src))
    start = time.perf_counter()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    for name in ("papermill", "papermill.translators", "blib2to3", "traitlets"):
        logging.getLogger(name).setLevel(logging.ERROR)
    run = NotebookRun(0.0, output=out)
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(jupyter_dir), saved) if p)
    try:
        for attempt in range(1, STARTS + 1):
            try:
                papermill.execute_notebook(
                    str(src),
                    str(out),
                    parameters=parameters,
                    kernel_name=KERNEL,
                    language="python",
                    cwd=str(workdir),
                    progress_bar=False,
                    log_output=False,
                    execution_timeout=timeout,
                    request_save_on_cell_execute=False,
                    # ipykernel warns on stderr about TCP without encryption: a local kernel.
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                )
                break
            except RuntimeError as exc:
                if attempt == STARTS or NOT_STARTED not in str(exc):
                    raise
    except PapermillExecutionError as exc:
        run.error = f"{exc.ename}: {' '.join(str(exc.evalue).split())}"[:400]
    except Exception as exc:  # noqa: BLE001 - timeouts, a dead kernel: report them
        kind = type(exc).__name__
        text = " ".join(str(exc).split())[:300]
        if "Timeout" in kind:
            text = f"a cell ran longer than {timeout:g}s (--timeout)" if timeout else text
        run.error = f"{kind}: {text}"
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    run.seconds = time.perf_counter() - start
    if run.error is not None:
        run.cell = _failed_cell(out)
    return run


def _failed_cell(path: Path) -> int | None:
    """The original index of the cell with an error output (or still running)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - papermill may not have written it
        return None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        status = (cell.metadata.get("papermill") or {}).get("status")
        if any(o.get("output_type") == "error" for o in cell.get("outputs", ())) or (
            status in ("running", "failed")
        ):
            return (cell.metadata.get(META) or {}).get("cell")
    return None
