"""A helper module beside the notebook (`import helpers`) imports in the pipeline as it does
in Jupyter, whose kernel has the notebook's folder on sys.path, whatever folder the run
starts from; the file is part of the cache key of the steps that import it.

Found on the public corpus: the Python Data Science Handbook's 05.08 imports
`helpers_05_08` from its own folder; the pipeline failed with ModuleNotFoundError when run
from anywhere but the notebook's folder."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from notebooks import write_notebook

from nb2pipe import api

CELLS = [
    ("imports", "import helpers\nimport numpy as np\nfrom tools.scale import double"),
    ("step:load", "x = helpers.base() + int(np.zeros(1)[0])"),
    ("step:left", "left = double(x)"),
    ("step:right", "import lazy_helper\nright = lazy_helper.VALUE + x"),
    ("step:total", "total = left + right"),
    ("metrics", "total"),
]


def _project(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "notebooks"
    nb = write_notebook(folder / "local.ipynb", CELLS)
    (folder / "helpers.py").write_text("def base():\n    return 20\n")
    (folder / "tools").mkdir()
    (folder / "tools" / "__init__.py").write_text("")
    (folder / "tools" / "scale.py").write_text("def double(v):\n    return 2 * v\n")
    (folder / "lazy_helper.py").write_text("VALUE = 1\n")
    (folder / "numpy").mkdir()  # a folder named like a library (as wandb/ holds run logs)
    (folder / "numpy" / "log.txt").write_text("not a module\n")
    out = tmp_path / "build" / f"local_{uuid.uuid4().hex[:8]}"  # one import name per test
    api.convert(nb, out)
    return folder, out


def test_local_modules_are_data_files_of_the_steps_that_import_them(tmp_path: Path) -> None:
    from nb2pipe.codegen.location import load_package

    _folder, out = _project(tmp_path)

    pipeline = load_package(out)
    files = {s.name: s.files for s in pipeline.steps}
    assert "numpy" in pipeline.step("load").distributions
    assert files == {
        "load": ("helpers.py",),
        "left": ("tools",),
        "right": ("lazy_helper.py",),
        "total": (),
    }


def _run(out: Path, cwd: Path, *args: str) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nb2pipe.frontends.cli",
            "run",
            str(out),
            "--runs-dir",
            str(cwd / "runs"),
            *args,
        ],  # fmt: skip
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    runs = sorted((cwd / "runs").glob("2*/run.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text())


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_helper_beside_the_notebook_imports_from_any_folder(tmp_path: Path, jobs: str) -> None:
    folder, out = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = _run(out, elsewhere, "-j", jobs)
    assert {n: s["status"] for n, s in first["steps"].items()} == dict.fromkeys(
        ("load", "left", "right", "total"), "ok"
    )
    assert first["metrics"]["total"] == 61  # 2 * 20 + (1 + 20)
    assert "helpers" not in sys.modules  # the test process never had the folder on its path

    (folder / "lazy_helper.py").write_text("VALUE = 5\n")  # only 'right' imports it
    second = _run(out, elsewhere, "-j", jobs)
    status = {n: s["status"] for n, s in second["steps"].items()}
    assert status == {"load": "cached", "left": "cached", "right": "ok", "total": "ok"}
    assert second["metrics"]["total"] == 65
