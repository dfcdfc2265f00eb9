"""A kernel that dies before it answers kernel_info ran no cell, and is started again.

Seen in the full suite: two notebooks started at once, one kernel's port taken before it
bound it (`ZMQError: Address already in use`), papermill raised `Kernel died before
replying to kernel_info`, and verify reported the notebook itself as failing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from nb2pipe.verify import kernel

pytestmark = pytest.mark.integration

FLAKY = """\
import runpy, sys
from pathlib import Path
counter = Path(sys.argv.pop(1))
deaths = int(sys.argv.pop(1))
seen = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(seen + 1))
if seen < deaths:
    sys.exit(1)  # dies before binding its ports, as a kernel whose port was taken
sys.argv[0] = "ipykernel_launcher"
runpy.run_module("ipykernel_launcher", run_name="__main__")
"""


def _dying_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deaths: int) -> Path:
    script = tmp_path / "flaky_kernel.py"
    script.write_text(FLAKY)
    counter = tmp_path / "starts"

    def spec(folder: Path) -> Path:
        spec_dir = folder / "kernels" / kernel.KERNEL
        spec_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, str(script), str(counter), str(deaths), "-f", "{connection_file}"]
        (spec_dir / "kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": "flaky", "language": "python"})
        )
        return folder

    monkeypatch.setattr(kernel, "kernel_spec", spec)
    return counter


def _run(tmp_path: Path) -> kernel.NotebookRun:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)")]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return kernel.execute(nb, tmp_path, scratch, parameters={}, timeout=60)


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, monkeypatch):
    counter = _dying_kernel(tmp_path, monkeypatch, deaths=kernel.STARTS - 1)
    run = _run(tmp_path)
    assert run.error is None
    assert counter.read_text() == str(kernel.STARTS)
    executed = nbformat.read(str(run.output), as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "42\n"


def test_a_kernel_that_never_starts_is_reported(tmp_path, monkeypatch):
    counter = _dying_kernel(tmp_path, monkeypatch, deaths=kernel.STARTS)
    run = _run(tmp_path)
    assert run.error is not None and kernel.NOT_STARTED in run.error
    assert counter.read_text() == str(kernel.STARTS)
