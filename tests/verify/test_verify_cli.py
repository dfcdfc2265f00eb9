"""`nb2pipe verify` end to end: real kernels (papermill) and real pipeline runs."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "sample_notebooks").glob("*.ipynb"))
CORPUS = REPO / "tests" / "fidelity" / "notebooks"

pytestmark = pytest.mark.integration


def nb2pipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb2pipe.frontends.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_every_sample_notebook_verifies(sample: Path, tmp_path: Path) -> None:
    before = hashlib.sha256(sample.read_bytes()).hexdigest()
    started = time.perf_counter()
    proc = nb2pipe("verify", str(sample), cwd=tmp_path)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified:" in proc.stdout and "mismatch" not in proc.stdout
    assert hashlib.sha256(sample.read_bytes()).hexdigest() == before  # never modified
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory
    print(f"{sample.stem}: verify took {elapsed:.1f}s")


def test_an_edited_step_is_caught_and_named(tmp_path: Path) -> None:
    """Convert, break a generated step by hand, verify the package: exit 1, naming the step
    and the variable."""
    sample = REPO / "sample_notebooks" / "iris_kale.ipynb"
    assert nb2pipe("convert", str(sample), "-o", "irispkg", "-q", cwd=tmp_path).returncode == 0
    step = tmp_path / "irispkg" / "steps" / "train.py"
    code = step.read_text()
    assert "max_depth=max_depth" in code
    step.write_text(code.replace("max_depth=max_depth", "max_depth=1"))
    proc = nb2pipe("verify", str(sample), "--pipeline", "irispkg", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "verify failed" in proc.stderr
    assert "step 'train', variable 'clf': mismatch: .get_params()['max_depth']: 3 != 1" in (
        proc.stderr
    )
    # the later step's values differ too, and are named
    assert "step 'evaluate', variable 'accuracy': mismatch" in proc.stderr


def test_an_edited_constant_in_process(tmp_path: Path) -> None:
    from nb2pipe import api
    from nb2pipe.verify import verify

    notebook = tmp_path / "redefined.py"
    shutil.copy(CORPUS / notebook.name, notebook)
    package = tmp_path / "redefined_pkg_edit"
    api.convert(notebook, package)
    step = package / "steps" / "second.py"
    step.write_text(step.read_text().replace("x = y * 10", "x = y * 11"))
    result = verify(notebook, pipeline_dir=package)
    assert result.exit_code == 1
    bad = {(r.step, r.variable): r.detail for r in result.problems}
    assert bad[("second", "x")] == "20 != 22"
    assert {step for step, _ in bad} == {"second", "third", "last"}
    assert result.notes == []  # the package matches the notebook it came from


def test_parameters_are_typed_and_reach_both_runs(tmp_path: Path) -> None:
    notebook = write(
        tmp_path / "p.py",
        """
        # %% tags=["parameters"]
        n = 3
        rate = 0.5
        tags = ("a", "b")

        # %% tags=["step:make"]
        values = [rate * i for i in range(n)]
        kinds = [type(n).__name__, type(rate).__name__, type(tags).__name__, len(tags)]
        """,
    )
    proc = nb2pipe(
        "verify", str(notebook), "-p", "n=5", "-p", "rate=2", "-p", "tags=[x, y, z]",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["parameters"] == {"n": 5, "rate": 2.0, "tags": ["x", "y", "z"]}
    assert {r["variable"]: r["verdict"] for r in data["rows"]} == {"values": "ok", "kinds": "ok"}


def test_bad_parameters_are_usage_errors(tmp_path: Path) -> None:
    notebook = write(
        tmp_path / "p.py",
        """
        # %% tags=["parameters"]
        n = 3

        # %% tags=["step:make"]
        x = n
        """,
    )
    proc = nb2pipe("verify", str(notebook), "-p", "nope=1", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown parameter 'nope' (parameters: n)" in proc.stderr
    proc = nb2pipe("verify", str(notebook), "-p", "n=abc", cwd=tmp_path)
    assert proc.returncode == 2 and "parameter 'n' expects int, got 'abc'" in proc.stderr
    proc = nb2pipe("verify", str(tmp_path / "missing.ipynb"), cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


# In the kernel sys.argv[0] is ipykernel's launcher: these cells misbehave only there.
ONLY_IN_KERNEL = 'import sys\nin_kernel = "ipykernel" in sys.argv[0]\n'


def test_a_notebook_failure_is_reported_with_its_cell(tmp_path: Path) -> None:
    notebook = write(
        tmp_path / "f.py",
        f"""
        # %% tags=["imports"]
        {ONLY_IN_KERNEL.splitlines()[0]}

        # %% tags=["step:a"]
        x = 1

        # %% tags=["step:b"]
        {ONLY_IN_KERNEL.splitlines()[1]}
        if in_kernel:
            raise ValueError("boom")
        y = x + 1
        """,
    )
    proc = nb2pipe("verify", str(notebook), cwd=tmp_path)
    assert proc.returncode == 1
    assert "the notebook failed: step 'b', cell 3: ValueError: boom" in proc.stderr
    assert "step 'b': not run: the notebook failed in this step" in proc.stderr
    assert "step 'a'" not in proc.stderr  # step a matched


def test_timeout_stops_a_slow_cell(tmp_path: Path) -> None:
    notebook = write(
        tmp_path / "t.py",
        f"""
        # %% tags=["imports"]
        import time
        {ONLY_IN_KERNEL.splitlines()[0]}

        # %% tags=["step:a"]
        {ONLY_IN_KERNEL.splitlines()[1]}
        if in_kernel:
            time.sleep(60)
        x = 1
        """,
    )
    started = time.perf_counter()
    proc = nb2pipe("verify", str(notebook), "--timeout", "3", cwd=tmp_path)
    assert time.perf_counter() - started < 45
    assert proc.returncode == 1
    assert "a cell ran longer than 3s (--timeout)" in proc.stderr


def test_a_failing_gate_in_both_runs(tmp_path: Path) -> None:
    proc = nb2pipe("verify", str(CORPUS / "gate_and_metrics.py"), "-p", "min_rows=100",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1
    assert "AssertionError: too few rows" in proc.stderr
    assert "the notebook failed in this step too" in proc.stderr
    assert "the notebook failed: step 'check_load', cell 4: AssertionError" in proc.stderr


def test_pipeline_mismatch_on_changed_tolerance(tmp_path: Path) -> None:
    """The same notebook verifies or not depending on --rtol: a float computed in two
    different orders."""
    notebook = write(
        tmp_path / "tol.py",
        """
        # %% tags=["imports"]
        import sys

        # %% tags=["step:a"]
        in_kernel = "ipykernel" in sys.argv[0]
        values = [0.1] * 10
        total = sum(values) if in_kernel else sum(reversed(values)) + 1e-7
        """,
    )
    proc = nb2pipe("verify", str(notebook), cwd=tmp_path)
    assert proc.returncode == 1 and "step 'a', variable 'total': mismatch" in proc.stderr
    assert "step 'a', variable 'in_kernel': mismatch: True != False" in proc.stderr


def test_secrets_come_from_the_environment_for_both_runs(tmp_path: Path) -> None:
    import os

    notebook = write(
        tmp_path / "s.py",
        """
        # %% tags=["parameters"]
        api_token = "dev-token"  # secret

        # %% tags=["step:use"]
        size = len(api_token)
        """,
    )
    proc = nb2pipe("verify", str(notebook), cwd=tmp_path)
    assert proc.returncode == 2
    assert "environment variable API_TOKEN, which is not set" in proc.stderr
    env = {**os.environ, "API_TOKEN": "a-much-longer-secret"}
    proc = subprocess.run(
        [sys.executable, "-m", "nb2pipe.frontends.cli", "verify", str(notebook)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "api_token='***'" in proc.stdout and "a-much-longer-secret" not in proc.stdout


def test_the_kernel_runs_this_interpreter_whatever_is_registered(tmp_path: Path) -> None:
    """A `python3` kernel spec of another interpreter earlier on JUPYTER_PATH is shadowed:
    the notebook's sys.executable is the pipeline's."""
    import os

    bogus = tmp_path / "other" / "kernels" / "python3"
    bogus.mkdir(parents=True)
    (bogus / "kernel.json").write_text(
        json.dumps({"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f",
                             "{connection_file}"], "display_name": "x", "language": "python"})
    )  # fmt: skip
    notebook = write(
        tmp_path / "exe.py",
        """
        # %% tags=["step:which"]
        import sys
        exe = sys.executable
        """,
    )
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "other")}
    proc = subprocess.run(
        [sys.executable, "-m", "nb2pipe.frontends.cli", "verify", str(notebook)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_notebook_that_differs_from_itself_is_not_blamed_on_the_pipeline(
    tmp_path: Path,
) -> None:
    """An estimator without random_state and nothing seeding numpy: the notebook gives
    other centers on every run (issue 14.0). verify runs it twice and says so."""
    notebook = write(
        tmp_path / "unseeded.py",
        """
        # %% tags=["imports"]
        import numpy as np
        from sklearn.cluster import MiniBatchKMeans

        # %% tags=["step:data"]
        points = np.concatenate([np.arange(40.0), np.arange(40.0) * 3]).reshape(-1, 2)

        # %% tags=["step:cluster"]
        km = MiniBatchKMeans(4, n_init=1, batch_size=8).fit(points)
        centers = km.cluster_centers_
        """,
    )
    from nb2pipe.verify import verify

    result = verify(notebook)
    assert result.ok, result.summary()
    verdicts = {r.variable: (r.verdict, r.detail) for r in result.rows}
    assert verdicts["points"][0] == "ok"
    detail = "the notebook itself is not deterministic here (unseeded randomness in cell 3)"
    assert verdicts["centers"] == ("nondeterministic", detail)
    assert "notebook again" in result.seconds
    proc = nb2pipe("verify", str(notebook), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not comparable: the notebook differs from itself" in proc.stdout
