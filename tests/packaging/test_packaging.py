"""The wheel ships every subpackage and the templates."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "nb2pipe").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert "nb2pipe.templates" in listed
    assert config["tool"]["setuptools"]["package-dir"]["nb2pipe.templates"] == "templates"


@pytest.mark.integration
def test_the_wheel_ships_templates_and_converts(tmp_path):
    """`pip install .` must convert: build the wheel, unpack it, and convert a sample with
    the unpacked copy first on sys.path (not this checkout)."""
    import subprocess
    import sys
    import zipfile

    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("nb2pipe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "nb2pipe/templates/step.py.j2" in names
    assert "nb2pipe/templates/viz/report.html.j2" in names or any(
        n.startswith("nb2pipe/templates/viz/") for n in names
    )
    assert "nb2pipe/cli/__init__.py" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import nb2pipe, nb2pipe.templates\n"
        "assert nb2pipe.__file__.startswith(sys.argv[1]), nb2pipe.__file__\n"
        "from nb2pipe import api\n"
        "api.convert(sys.argv[2], sys.argv[3])\n"
    )
    sample = ROOT / "sample_notebooks" / "iris_kale.ipynb"
    out = tmp_path / "iris"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(site), str(sample), str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "pipeline.py").is_file() and (out / "steps" / "train.py").is_file()
