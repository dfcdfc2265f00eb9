"""nb2pipe-runtime ships alone: its wheel installs in a fresh venv with nothing of nb2pipe's
compiler stack, and a generated package runs there (``python -m pkg``), as on a worker, in
a KFP component or behind a model server that installed the package's requirements.txt.

Offline: the runtime's wheel is built here (--no-index, no build isolation) and its
dependencies, with those of requirements.txt, come from this venv: each distribution of
their closure (read from the installed metadata, markers evaluated) is linked into a
folder the fresh venv puts on its path. Nothing else is reachable there, so a dependency
the runtime forgot to declare fails the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from wheels import build_wheels

ROOT = Path(__file__).resolve().parents[2]
COMPILER_STACK = ("typer", "jinja2", "nbformat", "papermill", "jupytext", "ruff", "ipykernel")


def _closure(names: list[str]) -> set[str]:
    """The installed distributions ``names`` need, themselves included (no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        req = Requirement(todo.pop())
        key = req.name.lower().replace("_", "-")
        if key in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(key)
        todo += metadata.requires(req.name) or []
    return seen


def _link_distributions(dists: set[str], folder: Path) -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    folder.mkdir()
    for name in dists:
        for file in metadata.distribution(name).files or ():
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            target = folder / top
            if not target.exists() and (site / top).exists():
                target.symlink_to(site / top)


def _runtime_wheel(tmp: Path) -> Path:
    build = build_wheels(tmp, runtime_only=True)
    assert build.returncode == 0, build.stderr
    noisy = [ln for ln in (build.stdout + build.stderr).splitlines() if "Warning" in ln]
    assert noisy == [], "\n".join(noisy)
    (wheel,) = (tmp / "wheels").glob("nb2pipe_runtime-*.whl")
    return wheel


@pytest.mark.integration
def test_the_runtime_installs_alone_and_runs_a_generated_package(tmp_path: Path) -> None:
    import zipfile

    wheel = _runtime_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "nb2pipe/runtime/runner.py" in names and "nb2pipe/__init__.py" not in names
    assert not [n for n in names if n.startswith("nb2pipe/") and "/runtime/" not in n]

    from nb2pipe.api import convert

    pkg_root = tmp_path / "work"
    convert(ROOT / "sample_notebooks" / "wine_classifier.ipynb", pkg_root / "wine")
    reqs = [
        line.strip()
        for line in (pkg_root / "wine" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "nb2pipe-runtime" in reqs and "nb2pipe" not in reqs

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    install = subprocess.run(
        [py, "-m", "pip", "--isolated", "install", "--no-index", "--no-deps", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    declared = [
        line.split(":", 1)[1].strip()
        for line in zipfile.ZipFile(wheel).read(meta).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]  # the wheel's own dependencies, not this venv's metadata of the checkout
    assert {"numpy", "pandas", "pyarrow", "xxhash"} <= {Requirement(r).name for r in declared}
    dists = _closure(declared + [r for r in reqs if r != "nb2pipe-runtime"])
    assert not {"nb2pipe", "typer", "jinja2", "nbformat", "papermill"} & dists
    _link_distributions(dists, tmp_path / "libs")
    fresh_site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(fresh_site) / "deps.pth").write_text(f"{tmp_path / 'libs'}\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NB2PIPE"))}
    env.update(PYTHONNOUSERSITE="1", NO_COLOR="1")
    probe = (
        "import importlib.util, json, sys\n"
        "import nb2pipe.runtime\n"
        f"missing = [m for m in {COMPILER_STACK!r} + ('nb2pipe.errors', 'nb2pipe.mlops') "
        "if importlib.util.find_spec(m) is None]\n"
        "print(json.dumps({'file': getattr(sys.modules['nb2pipe'], '__file__', None),"
        " 'runtime': nb2pipe.runtime.__file__, 'missing': missing,"
        " 'loaded': sorted(m for m in sys.modules if m.startswith('nb2pipe'))}))\n"
    )
    out = subprocess.run(
        [py, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert facts["file"] is None  # nb2pipe is a namespace package: only the runtime is here
    assert facts["runtime"].startswith(fresh_site)
    assert set(facts["missing"]) == {*COMPILER_STACK, "nb2pipe.errors", "nb2pipe.mlops"}
    assert all(m == "nb2pipe" or m.startswith("nb2pipe.runtime") for m in facts["loaded"])

    run = subprocess.run(
        [py, "-m", "wine", "--runs-dir", str(tmp_path / "runs"), "--run-id", "alone", "-q"],
        capture_output=True, text=True, env=env, cwd=pkg_root, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    record = json.loads((tmp_path / "runs" / "alone" / "run.json").read_text())
    assert record["status"] == "ok"
    assert {s["status"] for s in record["steps"].values()} == {"ok"}
    assert record["versions"]["nb2pipe"] == "0.1.0"
    metrics = json.loads((tmp_path / "runs" / "alone" / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["metrics"]
    # registering models is the publish hook's job (nb2pipe.mlops): not installed here
    assert "models" not in record and not (tmp_path / "runs" / "registry").exists()
