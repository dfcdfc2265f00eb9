"""End to end for every sample notebook: convert, run the generated package with
`python -m <package>` in a subprocess, and compare its final metric with the value the
original notebook computes when papermill executes it on a real `python3` kernel."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nb2pipe import api

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("kernel")]

#: sample -> the variable that holds its final metric
METRICS = {
    "wine_classifier": "best_accuracy",
    "diabetes_regression": "best_r2",
    "iris_kale": "accuracy",
}
MARK = "NB2PIPE_E2E_METRIC="


@pytest.fixture(scope="session")
def python3_kernel() -> str:
    """The `python3` kernel papermill runs; registered into this venv when missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
            check=True,
            capture_output=True,
        )
    return "python3"


def notebook_value(notebook: Path, variable: str, workdir: Path, kernel: str) -> Any:
    """Execute a copy of the notebook with one cell appended that prints the variable as
    JSON; the user's notebook is never modified."""
    import papermill

    nb = nbformat.read(notebook, as_version=4)
    probe = nbformat.v4.new_code_cell(f"import json\nprint({MARK!r} + json.dumps({variable}))")
    probe["id"] = "nb2pipe-e2e-probe"
    nb.cells.append(probe)
    copy = workdir / f"{notebook.stem}.probe.ipynb"
    nbformat.write(nb, copy)
    executed = workdir / f"{notebook.stem}.executed.ipynb"
    papermill.execute_notebook(
        str(copy),
        str(executed),
        kernel_name=kernel,
        cwd=str(notebook.parent),
        progress_bar=False,
        log_output=False,
    )
    out = nbformat.read(executed, as_version=4)
    text = "".join(
        o.get("text", "") for o in out.cells[-1].get("outputs", []) if o.get("name") == "stdout"
    )
    line = next(x for x in text.splitlines() if x.startswith(MARK))
    return json.loads(line[len(MARK) :])


def pipeline_value(sample: str, variable: str, root: Path) -> Any:
    """Run the converted package with `python -m` and read the variable back from the run
    record (a metric) or from the artifact store (an output of the step that made it)."""
    proc = subprocess.run(
        [sys.executable, "-m", sample],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [record_path] = (root / "runs").glob("*/run.json")
    record = json.loads(record_path.read_text())
    assert record["status"] == "ok"
    assert all(s["status"] == "ok" for s in record["steps"].values()), record["steps"]
    producers = [n for n, s in record["steps"].items() if variable in (s.get("outputs") or {})]
    assert producers, f"no step outputs {variable!r}"
    from nb2pipe.runtime.store import ArtifactRef, LocalStore

    ref = ArtifactRef.from_json(record["steps"][producers[-1]]["outputs"][variable])
    store = Path(record["store"])
    value = LocalStore(store if store.is_absolute() else record_path.parent / store).load(ref)
    metrics = record.get("metrics") or {}
    flat = {k.split(".")[-1]: v for k, v in _flatten(metrics).items()}
    if variable in flat:
        assert flat[variable] == pytest.approx(value)
    return value


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): data}


@pytest.mark.parametrize("sample", sorted(METRICS))
def test_sample_pipeline_matches_the_notebook(sample, samples_dir, tmp_path, python3_kernel):
    notebook = samples_dir / f"{sample}.ipynb"
    original = notebook.read_bytes()
    variable = METRICS[sample]
    api.convert(notebook, tmp_path / sample)
    from_pipeline = pipeline_value(sample, variable, tmp_path)
    from_notebook = notebook_value(notebook, variable, tmp_path, python3_kernel)
    assert isinstance(from_pipeline, float) and math.isfinite(from_pipeline)
    assert from_pipeline == pytest.approx(from_notebook, rel=1e-9, abs=1e-12)
    assert notebook.read_bytes() == original  # the user's notebook is untouched


def test_rerun_is_served_from_the_cache(samples_dir, tmp_path):
    """A second `python -m` run of an unchanged package reuses every step."""
    sample = "iris_kale"
    api.convert(samples_dir / f"{sample}.ipynb", tmp_path / sample)
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", sample],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/run.json")]
    assert len(records) == 2
    last = max(records, key=lambda r: r["start"])
    assert {s["status"] for s in last["steps"].values()} == {"cached"}
    shutil.rmtree(tmp_path / "runs")
