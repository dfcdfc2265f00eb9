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


class VerifyError(Nb2pipeError):
    """verify cannot start: no usable kernel, bad parameters, a package that cannot be
    loaded (exit code 2)."""


@dataclass
class NotebookRun:
    seconds: float
    error: str | None = None  # one line: cell, exception type and message
    cell: int | None = None  # the original 1-based cell that failed
    output: Path | None = None  # the executed copy


def check_kernel(name: str = KERNEL) -> None:
    """The kernel must run this interpreter: papermill would otherwise compute with
    other library versions than the pipeline."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    hint = f"register it: {sys.executable} -m ipykernel install --sys-prefix --name {name}"
    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise VerifyError(f"no Jupyter kernel named {name!r}", hint=hint) from None
    argv = list(spec.argv or [])
    if not argv:
        raise VerifyError(f"the kernel {name!r} has no command", hint=hint)
    exe = argv[0]
    # jupyter_client runs a bare "python" / "python3" with sys.executable.
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
    if exe in bare:
        return
    try:
        same = Path(exe).resolve() == Path(sys.executable).resolve() or os.path.samefile(
            exe, sys.executable
        )
    except OSError:
        same = False
    if not same:
        raise VerifyError(
            f"the kernel {name!r} runs {exe}, not this interpreter ({sys.executable})",
            hint=hint,
        )


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

    check_kernel()
    src = scratch / "instrumented.ipynb"
    out = scratch / "executed.ipynb"
    nbformat.write(notebook, str(src))
    start = time.perf_counter()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    for name in ("papermill", "papermill.translators", "blib2to3", "traitlets"):
        logging.getLogger(name).setLevel(logging.ERROR)
    run = NotebookRun(0.0, output=out)
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
    except PapermillExecutionError as exc:
        run.error = f"{exc.ename}: {' '.join(str(exc.evalue).split())}"[:400]
    except Exception as exc:  # noqa: BLE001 - timeouts, a dead kernel: report them
        kind = type(exc).__name__
        text = " ".join(str(exc).split())[:300]
        if "Timeout" in kind:
            text = f"a cell ran longer than {timeout:g}s (--timeout)" if timeout else text
        run.error = f"{kind}: {text}"
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
