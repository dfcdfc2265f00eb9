"""The wheel ships every subpackage and the templates, and builds without a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from wheels import build_wheels

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    runtime = tomllib.loads((ROOT / "nb2pipe" / "runtime" / "pyproject.toml").read_text())
    shipped = set(runtime["tool"]["setuptools"]["packages"])  # by nb2pipe-runtime
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "nb2pipe").rglob("__init__.py")
        if not {"__pycache__", "build"} & set(p.relative_to(ROOT).parts)  # build: its output
    }
    assert found - listed - shipped == set(), "add these to [tool.setuptools] packages"
    assert not listed & shipped, "nb2pipe-runtime ships these: not nb2pipe"
    assert {p for p in found if p.startswith("nb2pipe.runtime")} <= shipped
    assert "nb2pipe.templates" in listed
    assert config["tool"]["setuptools"]["package-dir"]["nb2pipe.templates"] == "templates"
    # the templates' subfolders are data-only packages: listed, each with its package data
    folders = {
        ".".join(("nb2pipe", *p.relative_to(ROOT).parts))
        for p in (ROOT / "templates").rglob("*")
        if p.is_dir()
        and not any(
            part == "__pycache__" or part.startswith(".") for part in p.parts[len(ROOT.parts) :]
        )
    }
    assert folders - listed == set(), "add these to [tool.setuptools] packages"
    data = config["tool"]["setuptools"]["package-data"]
    assert folders <= set(data), "declare their files in [tool.setuptools.package-data]"


def test_license_is_an_spdx_expression_with_its_file():
    """PEP 639: a TOML table for `license` is deprecated (setuptools warns on every build)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert all((ROOT / f).is_file() for f in project["license-files"])


@pytest.mark.integration
def test_the_wheel_ships_templates_and_converts(tmp_path):
    """`pip install .` must convert: build the wheel, unpack it, and convert a sample with
    the unpacked copy first on sys.path (not this checkout)."""
    import subprocess
    import sys
    import zipfile

    wheels = tmp_path / "wheels"
    build = build_wheels(tmp_path)
    assert build.returncode == 0, build.stderr
    # a quiet build: no setuptools deprecation (license table, undeclared data packages)
    noisy = [
        line
        for line in (build.stdout + build.stderr).splitlines()
        if "Warning" in line or "deprecated" in line.lower()
    ]
    assert noisy == [], "\n".join(noisy)
    (wheel,) = wheels.glob("nb2pipe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {
        "nb2pipe/templates/" + p.relative_to(ROOT / "templates").as_posix()
        for p in (ROOT / "templates").rglob("*")
        if p.is_file()
        and not any(
            part == "__pycache__" or part.startswith(".")  # tool caches (.ruff_cache)
            for part in p.relative_to(ROOT / "templates").parts
        )
    }
    assert shipped - set(names) == set(), "template files missing from the wheel"
    assert "nb2pipe/frontends/cli/__init__.py" in names
    (info,) = {n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA")}
    assert f"{info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata
    assert not [n for n in names if n.startswith("nb2pipe/runtime/")]  # nb2pipe-runtime's
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    (runtime,) = wheels.glob("nb2pipe_runtime-*.whl")  # installed with nb2pipe, beside it
    zipfile.ZipFile(runtime).extractall(site)
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
