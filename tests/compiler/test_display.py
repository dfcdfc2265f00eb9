"""Generated code (issue 18 item 7): display settings replayed only where their library is
used and kept out of cache keys; `from x import a, b` kept as one statement; short
signatures on one line; the module path computed from the package, not the working folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb2pipe import api
from nb2pipe.codegen.render import join_imports
from nb2pipe.runtime import freshness, runner

IMPORTS = (
    "imports",
    "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n"
    "from sklearn.datasets import load_iris, load_wine\n"
    "%matplotlib inline\n"
    "pd.set_option('display.max_rows', 5)\nplt.style.use('ggplot')\n"
    "np.set_printoptions(precision=3)\npd.set_option('compute.use_bottleneck', False)",
)
CELLS = [
    IMPORTS,
    ("step:frame", "df = pd.DataFrame(load_iris().data)\nwine = load_wine().data"),
    ("step:plain", "total = len(df) + 1"),
    ("step:draw", "plt.plot([1, 2])"),
]


def _step(out: Path, name: str) -> str:
    return (out / "steps" / f"{name}.py").read_text()


def test_display_settings_replayed_only_where_the_library_is_used(convert_cells):
    pipe, out = convert_cells(CELLS)
    # the option that can change a result stays a setting every step replays
    assert [f.source for f in pipe.settings] == ["pd.set_option('compute.use_bottleneck', False)"]
    assert {s.name: s.display for s in pipe.steps} == {
        "frame": ("pandas",),
        "plain": (),
        "draw": ("plotting",),
    }
    module = (out / "display_settings.py").read_text()
    assert "def pandas_options() -> None:" in module
    assert 'pd.set_option("display.max_rows", 5)' in module
    assert 'plt.style.use("ggplot")' in module
    assert "matplotlib inline" not in module
    frame, plain, draw = (_step(out, n) for n in ("frame", "plain", "draw"))
    assert "display_settings.pandas_options()" in frame
    assert "plot_style" not in frame and "display" not in plain
    assert "display_settings.plot_style()" in draw and "pandas_options" not in draw
    # no step uses numpy: its print options are not written at all
    assert "set_printoptions" not in module + frame + plain + draw
    for text in (frame, plain, draw):
        assert "compute.use_bottleneck" in text
        assert "matplotlib inline" not in text


@pytest.fixture
def isolated_imports(monkeypatch):
    """load_package puts the package's root on sys.path and imports it: undone after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] == "display_cache_pkg":
            del sys.modules[name]


@pytest.mark.usefixtures("isolated_imports")
def test_a_display_setting_is_no_part_of_a_cache_key(write_nb, tmp_path):
    nb = write_nb(CELLS)
    out = tmp_path / "display_cache_pkg"
    runs = tmp_path / "runs"
    api.convert(nb, out)
    first = runner.run(api.load_package(out), runs_dir=runs, quiet=True)
    assert first.ok and {s["status"] for s in first.steps.values()} == {"ok"}
    edited = [(IMPORTS[0], IMPORTS[1].replace("max_rows', 5", "max_rows', 50")), *CELLS[1:]]
    api.convert(write_nb(edited), out)
    assert "50" in (out / "display_settings.py").read_text()
    again = runner.run(api.load_package(out), runs_dir=runs, quiet=True)
    assert {s["status"] for s in again.steps.values()} == {"cached"}
    # a setting that may change results is part of every key
    changed = [(IMPORTS[0], IMPORTS[1].replace("use_bottleneck', False", "use_bottleneck', True"))]
    api.convert(write_nb([*changed, *CELLS[1:]]), out)
    third = runner.run(api.load_package(out), runs_dir=runs, quiet=True)
    assert {s["status"] for s in third.steps.values()} == {"ok"}


@pytest.mark.usefixtures("isolated_imports")
def test_a_package_reconverted_in_this_process_is_imported_again(write_nb, tmp_path, monkeypatch):
    """A long-lived process (the Lab server, a test) that loads, reconverts and loads again
    gets the new package: neither sys.modules nor a same-second .pyc keeps the old one."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # PYTHONDONTWRITEBYTECODE may be set
    out = tmp_path / "display_cache_pkg"
    api.convert(write_nb(CELLS), out)
    first = api.load_package(out)
    was = (out / "pipeline.py").stat()
    api.convert(write_nb([*CELLS[:-1], ("step:draw", "plt.plot([1, 2, 3])")]), out)
    assert (out / "pipeline.py").stat().st_size == was.st_size  # only the notebook digest
    os.utime(out / "pipeline.py", ns=(was.st_atime_ns, was.st_mtime_ns))  # in the same second
    second = api.load_package(out)
    assert second.notebook_sha256 != first.notebook_sha256
    assert freshness.check(second, out, strict=True) is None
    assert api.load_package(out) is second  # unchanged since: the imported module is kept


def test_from_imports_of_one_module_stay_one_statement(convert_cells):
    _pipe, out = convert_cells(CELLS)
    assert "from sklearn.datasets import load_iris, load_wine\n" in _step(out, "frame")


def test_join_imports():
    lines = [
        "import os",
        "from a import x",
        "from .rel import y",
        "from a import z as w",
        "from a import x",
        "from a import *",
        "import os.path\nimport os",
    ]
    assert join_imports(lines) == [
        "import os",
        "from a import x, z as w",
        "from .rel import y",
        "from a import *",
        "import os.path\nimport os",
    ]


def test_short_signatures_on_one_line_long_ones_split_by_ruff(convert_cells):
    long_names = [f"value_number_{i}" for i in range(6)]
    cells = [
        ("parameters", "rate = 0.5"),
        ("step:make", "\n".join(f"{n} = {i}" for i, n in enumerate(long_names))),
        ("step:use", "s = " + " + ".join(long_names) + " + rate"),
        ("step:short", "t = s * 2"),
    ]
    _pipe, out = convert_cells(cells)
    assert "def short(s: Any) -> dict[str, Any]:" in _step(out, "short")
    use = _step(out, "use")
    assert "def use(\n    value_number_0: Any,\n" in use  # ruff splits what is too long
    assert "    *,\n    rate: float = 0.5,\n) -> dict[str, Any]:" in use


@pytest.mark.integration
def test_convert_check_from_another_folder_through_the_cli(write_nb, tmp_path):
    """Regression: `nb2pipe convert --check` run from another folder reported three files
    stale, because the module path came from the working directory."""
    project = tmp_path / "proj"
    nb = write_nb(CELLS, folder=project)
    (project / "pyproject.toml").write_text("")
    exe = Path(sys.executable).with_name("nb2pipe")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "nb2pipe.frontends.cli"]
    out = project / "pipelines" / "nb"
    done = subprocess.run(
        [*command, "convert", str(nb), "-o", str(out)], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / ".nb2pipe-manifest.json").read_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd in (elsewhere, project / "pipelines", out):
        check = subprocess.run(
            [*command, "convert", str(nb), "-o", str(out), "--check"],
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, (cwd, check.stdout, check.stderr)
    assert "python -m pipelines.nb" in (out / "README.md").read_text()
    assert json.loads((out / ".nb2pipe-manifest.json").read_text()) == manifest
