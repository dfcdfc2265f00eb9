"""Code generation (SPEC section 3): the package compiles, is ruff-clean, is byte-identical
on reconversion, says where it came from, its steps are plain callable functions, and it is
built aside and moved into place whole."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib
import importlib.resources
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from nb2pipe import __version__, api
from nb2pipe.codegen import package as codegen
from nb2pipe.codegen.spec import to_spec
from nb2pipe.errors import Nb2pipeError, OutputError
from nb2pipe.frontends.cli import app

SAMPLES = ["wine_classifier", "diabetes_regression", "iris_kale"]

KITCHEN_SINK = [
    ("md", "# Kitchen sink\n\nEvery feature the generator has to render."),
    (
        "imports",
        "%matplotlib inline\n!pip install tabulate\nimport math\nimport numpy as np\n"
        "import pandas as pd\nnp.random.seed(0)\npd.set_option('display.width', 120)",
    ),
    (
        "parameters",
        'n: int = 20  # rows "quoted" \\ and more\nscale = 2.5\nlabel = \'it\\\'s "x"\'\n'
        "tags = ['a', 'b']\nlimits = {'lo': 0, 'hi': None}\napi_token = ''  # secret\n"
        "half = n // 2",
    ),
    (
        "functions",
        "def double(v):\n    return 2 * v\n\n\nclass Holder:\n    def __init__(self, v):\n        self.v = v",
    ),
    ("md", '## Make\n\nDocstring with """triple quotes""", a backslash \\ and `code`.'),
    (
        "step:make",
        "class Point:\n    def __init__(self, x):\n        self.x = x\n\n\n"
        "df = pd.DataFrame({'v': np.arange(n) * scale})\npoints = [Point(i) for i in range(half)]\n"
        "df",
    ),
    ("skip", "df.plot()"),
    ("validate", "assert len(df) == n, 'wrong length'"),
    ("md", "## Left"),
    ("step:left", "left = df['v'].sum()\nholder = Holder(double(left))"),
    ("md", "## Right"),
    ("step:right after:make", "right = math.fsum(p.x for p in points)\nmore = Point(3)"),
    ("step:join", "total = holder.v + right + more.x\nprint(label, tags, limits, total)"),
    ("metrics", "total"),
]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([codegen.ruff_bin(), *args], capture_output=True, text=True, check=False)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def import_package(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], Any]]:
    """import_package(folder) -> the generated package's PIPELINE, importable by name."""
    names: list[str] = []

    def load(folder: Path) -> Any:
        monkeypatch.syspath_prepend(str(folder.parent))
        names.append(folder.name)
        importlib.invalidate_caches()
        return importlib.import_module(f"{folder.name}.pipeline").PIPELINE

    yield load
    for mod in list(sys.modules):
        if mod.split(".")[0] in names:
            del sys.modules[mod]


def run_in_process(pipeline: Any, **overrides: Any) -> dict[str, dict[str, Any]]:
    """Call every step function in order, as a user would by hand: inputs as arguments,
    parameters (and derived values) as keywords."""
    values = {p.name: p.default for p in pipeline.parameters}
    values.update(overrides)
    if pipeline.derive is not None:
        values.update(pipeline.derive(**values))
    outputs: dict[str, dict[str, Any]] = {}
    for step in pipeline.steps:
        fn = pipeline.function(step.name)
        args = {var: outputs[src][var] for var, src in step.inputs.items()}
        kwargs = {p: values[p] for p in step.params}
        result = fn(**args, **kwargs)
        assert isinstance(result, dict)
        assert set(result) == set(step.outputs), step.name
        outputs[step.name] = result
    return outputs


@pytest.fixture(scope="module")
def sample_packages(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """Every sample notebook converted once, into <tmp>/<sample>."""
    root = tmp_path_factory.mktemp("samples")
    for name in SAMPLES:
        api.convert(samples_dir / f"{name}.ipynb", root / name)
    return root


@pytest.fixture
def sink(convert_cells) -> tuple[Any, Path]:
    return convert_cells(KITCHEN_SINK, name="sink")


# ---------------------------------------------------------------- clean code


def _check_clean(folder: Path) -> None:
    config = str(folder / "ruff.toml")
    py_files = sorted(folder.rglob("*.py"))
    assert py_files
    for path in py_files:
        compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
    lint = _ruff("check", "--no-cache", "--config", config, str(folder))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _ruff("format", "--check", "--no-cache", "--config", config, str(folder))
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_package_compiles_and_is_ruff_clean(sample_packages, sample):
    _check_clean(sample_packages / sample)


def test_kitchen_sink_package_compiles_and_is_ruff_clean(sink):
    _pipe, folder = sink
    _check_clean(folder)


def test_layout_of_the_package(sink):
    pipe, folder = sink
    files = set(_tree(folder))
    expected = {
        "__init__.py",
        "__main__.py",
        "pipeline.py",
        "common.py",
        "params.yaml",
        "requirements.txt",
        "README.md",
        "ruff.toml",
        "steps/__init__.py",
        "display_settings.py",  # the sink sets pandas' display options
    } | {f"steps/{s.name}.py" for s in pipe.steps}
    assert files == expected | {".nb2pipe-manifest.json"}
    # The manifest lists every other file with the sha256 of its bytes: what convert owns.
    listed = json.loads((folder / ".nb2pipe-manifest.json").read_text())["files"]
    assert listed == {rel: hashlib.sha256(_tree(folder)[rel]).hexdigest() for rel in expected}


def test_ruff_rule_set_relaxes_only_notebook_style(sink):
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    _pipe, folder = sink
    lint = tomllib.loads((folder / "ruff.toml").read_text())["lint"]
    assert {"F", "E9"} <= set(lint["select"])  # pyflakes and syntax errors stay on
    # Undefined names, bad comparisons with literals, etc. are never relaxed.
    assert not set(lint["ignore"]) & {"F821", "F822", "F823", "F632", "F706", "E902"}
    assert all(code.startswith(("F4", "F8", "E4", "E7", "W")) for code in lint["ignore"])


# ---------------------------------------------------------------- reproducible output


def test_byte_identical_on_reconversion(write_nb, tmp_path, monkeypatch):
    nb = write_nb(KITCHEN_SINK, name="sink")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    api.convert(nb, tmp_path / "one" / "pkg")
    api.convert(nb, tmp_path / "two" / "pkg")
    first, second = _tree(tmp_path / "one" / "pkg"), _tree(tmp_path / "two" / "pkg")
    assert first == second
    api.convert(nb, tmp_path / "one" / "pkg")  # in place, over itself
    assert _tree(tmp_path / "one" / "pkg") == first


@pytest.mark.parametrize("sample", SAMPLES)
def test_no_machine_specific_text(sample_packages, sample, tmp_path):
    folder = sample_packages / sample
    for rel, data in _tree(folder).items():
        text = data.decode("utf-8")
        assert str(folder.parent) not in text, rel
        assert str(Path.home()) + "/" not in text or str(Path.home()) == "/", rel
        assert "\r" not in text and text.endswith("\n"), rel


def test_convert_check_after_convert_and_after_an_edit(write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1"), ("step:b", "y = x + 1")], name="chk")
    out = tmp_path / "chk_pkg"
    runner = CliRunner()
    assert runner.invoke(app, ["convert", str(nb), "-o", str(out)]).exit_code == 0
    before = _tree(out)
    ok = runner.invoke(app, ["convert", str(nb), "-o", str(out), "--check"])
    assert ok.exit_code == 0, ok.stderr
    write_nb([("step:a", "x = 2"), ("step:b", "y = x + 1")], name="chk")
    stale = runner.invoke(app, ["convert", str(nb), "-o", str(out), "--check"])
    assert stale.exit_code == 1
    assert "steps/a.py" in stale.stderr
    assert _tree(out) == before  # --check writes nothing


@pytest.mark.parametrize("marker", ["pyproject.toml", "nb2pipe.toml", ".git"])
def test_module_path_comes_from_the_package_not_the_working_directory(
    write_nb, tmp_path, monkeypatch, marker
):
    """`python -m` is written relative to the project root above the package (the nearest
    folder with nb2pipe.toml, pyproject.toml or .git), so converting or checking from
    another folder finds the same files."""
    project = tmp_path / "proj"
    nb = write_nb([("step:a", "x = 1")], name="where", folder=project)
    (project / marker).mkdir() if marker == ".git" else (project / marker).write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = project / "pipelines" / "where"
    monkeypatch.chdir(elsewhere)
    api.convert(nb, out)
    assert "python -m pipelines.where`" in (out / "__init__.py").read_text()
    assert "python -m pipelines.where " in (out / "README.md").read_text()
    for cwd in (project, out, elsewhere):
        monkeypatch.chdir(cwd)
        _pipe, _out, stale = api.convert(nb, out, check=True)
        assert stale == []


def test_module_path_outside_a_project(tmp_path, monkeypatch):
    """With no project root above it, the working folder counts when the package is inside
    it (as `-o pipelines/wine` reads), else the package's own parent."""
    out = tmp_path / "pipelines" / "where"
    out.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert (codegen.module_path(out), codegen.package_root(out)) == ("pipelines.where", tmp_path)
    monkeypatch.chdir(out)
    assert (codegen.module_path(out), codegen.package_root(out)) == (
        "where",
        tmp_path / "pipelines",
    )


def test_module_path_outside_a_project_is_recorded_by_convert(write_nb, tmp_path, monkeypatch):
    """Outside a project the first convert's working folder decides the module path; the
    manifest records it, so checking or reconverting from another folder agrees (it
    reported every file stale: `where` instead of `pipelines.where`)."""
    nb = write_nb([("step:a", "x = 1")], name="where")
    out = tmp_path / "pipelines" / "where"
    monkeypatch.chdir(tmp_path)
    api.convert(nb, out)
    assert json.loads((out / ".nb2pipe-manifest.json").read_text())["module"] == "pipelines.where"
    for cwd in (out, out.parent, tmp_path.parent):
        monkeypatch.chdir(cwd)
        assert (codegen.module_path(out), codegen.package_root(out)) == (
            "pipelines.where",
            tmp_path,
        )
        _pipe, _out, stale = api.convert(nb, out, check=True)
        assert stale == []
    moved = tmp_path / "elsewhere" / "where"  # a recorded path that no longer fits is ignored
    moved.parent.mkdir()
    out.rename(moved)
    monkeypatch.chdir(tmp_path)
    assert codegen.module_path(moved) == "elsewhere.where"


def test_check_ignores_comment_only_changes_nowhere(write_nb, tmp_path):
    """Even a comment change makes the package stale: the code keeps the notebook's text."""
    nb = write_nb([("step:a", "x = 1")], name="cmt")
    out = tmp_path / "cmt_pkg"
    api.convert(nb, out)
    write_nb([("step:a", "x = 1  # one")], name="cmt")
    _pipe, _out, stale = api.convert(nb, out, check=True)
    assert "steps/a.py" in stale


def test_check_reports_an_obsolete_generated_file(write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1"), ("step:b", "y = x")], name="obs")
    out = tmp_path / "obs_pkg"
    api.convert(nb, out)
    write_nb([("step:a", "x = 1"), ("step:c", "y = x")], name="obs")
    _pipe, _out, stale = api.convert(nb, out, check=True)
    assert {"steps/b.py", "steps/c.py"} <= set(stale)
    api.convert(nb, out)
    assert not (out / "steps" / "b.py").exists()
    assert (out / "steps" / "c.py").exists()


# ---------------------------------------------------------------- where it came from


def test_origin_header_and_cell_markers(sink):
    pipe, folder = sink
    for rel, data in _tree(folder).items():
        head = data.decode()[:400]
        assert "Generated by nb2pipe" in head, rel
        if rel.endswith((".py", ".yaml", ".txt", ".toml", ".md")) and rel != "ruff.toml":
            assert "sink.ipynb" in head, rel
    for step in pipe.steps:
        text = (folder / "steps" / f"{step.name}.py").read_text()
        assert "source of truth" in text
        for cell in step.cells:
            if any(f.cell == cell for f in step.body + step.hoisted):
                assert f"# cell {cell}\n" in text, (step.name, cell)
    assert "# cell 4" in (folder / "common.py").read_text()


def test_header_names_the_cells_of_a_step(sink):
    _pipe, folder = sink
    first = (folder / "steps" / "make.py").read_text().splitlines()[0]
    assert first.startswith(f"# Generated by nb2pipe {__version__} from ../sink.ipynb (cell 6)")


def test_pipeline_records_the_generating_version(sink, import_package):
    _pipe, folder = sink
    pipeline = import_package(folder)
    assert pipeline.generated_by == __version__
    assert f'NB2PIPE_VERSION = "{__version__}"' in (folder / "pipeline.py").read_text()


def test_markdown_becomes_the_step_docstring(sink):
    _pipe, folder = sink
    module = ast.parse((folder / "steps" / "make.py").read_text())
    doc = 'Docstring with """triple quotes""", a backslash \\ and `code`.'
    assert ast.get_docstring(module) == doc
    fn = next(n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "make")
    assert (ast.get_docstring(fn) or "").startswith(doc)


def test_no_empty_docstrings(convert_cells):
    _pipe, folder = convert_cells([("step:a", "x = 1")], name="nodoc")
    for path in folder.rglob("*.py"):
        assert '""""""' not in path.read_text(), path.name


def test_readme_has_a_mermaid_dag_and_the_parameters(sink):
    pipe, folder = sink
    readme = (folder / "README.md").read_text()
    assert "```mermaid" in readme
    ids = {s.name: f"n{k}" for k, s in enumerate(pipe.steps)}
    for s in pipe.steps:
        assert f"{ids[s.name]}" + ('{{"' if s.kind == "gate" else '["') + s.name in readme
    edges = to_spec(pipe).edges
    assert edges
    for e in edges:
        if e.variables:
            assert f'{ids[e.src]} -->|"{", ".join(e.variables)}"| {ids[e.dst]}' in readme
        else:
            assert f"{ids[e.src]} -.-> {ids[e.dst]}" in readme
    for p in pipe.parameters:
        assert f"`{p.name}`" in readme


def test_pipeline_py_holds_the_runtime_spec_that_to_spec_maps(convert_cells):
    """One mapping from the compiler's model to the runtime's DAG: the package's PIPELINE
    (which the runner and the exporters read) is what nb2pipe.codegen.spec.to_spec gives,
    which is what `nb2pipe graph NOTEBOOK` and the README draw."""
    cells = [
        *KITCHEN_SINK[:-1],
        ("metrics", "total  # lower"),
        ("step:print model:holder", "holder2 = Holder(np.random.rand())"),
    ]
    pipe, folder = convert_cells(cells, name="spec_sink")
    loaded = api.load_package(folder)
    renamed = {s.name: s.function for s in loaded.steps if s.function}
    assert renamed == {"print": "print_step"}
    mapped = to_spec(
        pipe,
        package=loaded.package,
        functions=renamed,
        notebook=loaded.notebook,
        notebook_sha256=loaded.notebook_sha256,
        workdir=loaded.workdir,
    )
    assert dataclasses.replace(loaded, derive=None) == mapped
    assert mapped.step("join").directions == {"total": "lower"}
    assert mapped.step("print").models == ("holder=holder2",)
    assert [p.name for p in mapped.parameters if p.secret] == ["api_token"]


def test_requirements_are_distribution_names_without_pins(sample_packages):
    reqs = (sample_packages / "wine_classifier" / "requirements.txt").read_text().split("\n")
    names = [line for line in reqs if line and not line.startswith("#")]
    assert {"scikit-learn", "pandas", "nb2pipe-runtime"} <= set(names)
    assert "sklearn" not in names and "nb2pipe" not in names  # not the compiler stack
    assert not any(ch in line for line in names for ch in "=<>~ ")
    assert names == sorted(names)


def test_requirements_include_pip_install_lines(sink):
    _pipe, folder = sink
    assert "tabulate" in (folder / "requirements.txt").read_text().split("\n")


# ---------------------------------------------------------------- safe rendering


def test_parameters_render_exactly(sink, import_package):
    _pipe, folder = sink
    pipeline = import_package(folder)
    params = {p.name: p for p in pipeline.parameters}
    assert params["label"].default == 'it\'s "x"'
    assert params["limits"].default == {"lo": 0, "hi": None}
    assert params["tags"].default == ["a", "b"]
    assert params["n"].help == 'rows "quoted" \\ and more'
    assert params["api_token"].secret and params["api_token"].env == "API_TOKEN"
    assert pipeline.derived == ("half",)
    defaults = yaml.safe_load((folder / "params.yaml").read_text())
    assert defaults["label"] == 'it\'s "x"' and defaults["limits"] == {"lo": 0, "hi": None}
    assert "api_token" not in defaults or defaults["api_token"] in (None, "")
    assert "half" not in defaults


def test_no_code_injection_through_markdown_or_names(convert_cells, import_package):
    evil_md = '## x\n\n"""\nimport os; os.system("echo pwned")\n"""\\'
    cells = [
        ("parameters", 'path = "\\"; import os  #"  # help"""\n'),
        ("md", evil_md),
        ('step:a hide-input"', "v = path"),
    ]
    _pipe, folder = convert_cells(cells, name="evil")
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        assert not any(ast.unparse(c.func) == "os.system" for c in calls), path
    pipeline = import_package(folder)
    assert pipeline.parameters[0].default == '"; import os  #'
    assert 'os.system("echo pwned")' in pipeline.step("a").doc


# ---------------------------------------------------------------- plain functions


@pytest.mark.parametrize("sample", ["wine_classifier", "diabetes_regression", "iris_kale"])
def test_sample_steps_are_plain_callable_functions(sample_packages, sample, import_package):
    pipeline = import_package(sample_packages / sample)
    outputs = run_in_process(pipeline)
    last = next(s for s in reversed(pipeline.steps) if s.kind == "step")
    assert outputs[last.name]


def test_a_step_module_imported_alone_and_called(sink, import_package):
    _pipe, folder = sink
    import_package(folder)
    make = importlib.import_module(f"{folder.name}.steps.make").make
    out = make(n=4, scale=1.0, half=2)
    assert list(out["df"]["v"]) == [0.0, 1.0, 2.0, 3.0]
    assert [p.x for p in out["points"]] == [0, 1]
    right = importlib.import_module(f"{folder.name}.steps.right").right
    assert right(out["points"])["right"] == 1.0


def test_kitchen_sink_runs_in_process(sink, import_package):
    _pipe, folder = sink
    pipeline = import_package(folder)
    outputs = run_in_process(pipeline, api_token="s3cret")
    # left = 2.5 * (0 + ... + 19) = 475; holder.v = 950; right = 0 + ... + 9 = 45; more = 3
    assert outputs["join"]["total"] == 950 + 45 + 3


def test_step_signature_inputs_then_keyword_only_parameters(sink, import_package):
    _pipe, folder = sink
    import_package(folder)
    import inspect

    sig = inspect.signature(importlib.import_module(f"{folder.name}.steps.make").make)
    kinds = {name: p.kind for name, p in sig.parameters.items()}
    assert kinds == {
        "n": inspect.Parameter.KEYWORD_ONLY,
        "scale": inspect.Parameter.KEYWORD_ONLY,
        "half": inspect.Parameter.KEYWORD_ONLY,
    }
    assert sig.parameters["n"].default == 20
    sig = inspect.signature(importlib.import_module(f"{folder.name}.steps.join").join)
    assert list(sig.parameters)[:3] == ["holder", "right", "more"]


def test_hoisted_class_is_module_level_and_importable(sink, import_package):
    _pipe, folder = sink
    import_package(folder)
    make = importlib.import_module(f"{folder.name}.steps.make")
    assert make.Point.__module__ == f"{folder.name}.steps.make"
    right = (folder / "steps" / "right.py").read_text()
    assert "from .make import Point" in right


def test_import_inside_a_step_cell_works(convert_cells, import_package):
    _pipe, folder = convert_cells([("step:a", "import math\nr = math.sqrt(4)")], name="stepimp")
    pipeline = import_package(folder)
    assert run_in_process(pipeline)["a"]["r"] == 2.0


def test_main_guard_converts_and_runs(convert_cells, import_package):
    cells = [("step:a", "if __name__ == '__main__':\n    x = 1\nelse:\n    x = 2")]
    _pipe, folder = convert_cells(cells, name="mainguard")
    assert run_in_process(import_package(folder))["a"]["x"] == 1


def test_parameters_cell_with_only_derived_values(convert_cells, import_package):
    cells = [("parameters", "size = 10 ** 3"), ("step:a", "x = size + 1")]
    _pipe, folder = convert_cells(cells, name="onlyderived")
    assert run_in_process(import_package(folder))["a"]["x"] == 1001


def test_conditional_import_in_a_step_cell(convert_cells, import_package):
    cells = [
        (
            "step:a",
            "try:\n    import ujson as json\nexcept ImportError:\n    import json\nd = json.dumps({})",
        ),
        ("step:b", "e = json.loads(d)"),
    ]
    _pipe, folder = convert_cells(cells, name="condimport")
    assert run_in_process(import_package(folder))["b"]["e"] == {}


def test_global_in_a_function_of_a_step_runs(convert_cells, import_package):
    cells = [
        ("step:a", "counter = 0"),
        ("step:b", "def inc():\n    global counter\n    counter += 1\ninc()\ninc()"),
        ("step:c", "final = counter"),
    ]
    _pipe, folder = convert_cells(cells, name="glob")
    assert run_in_process(import_package(folder))["c"]["final"] == 2


def test_conditional_binding_keeps_the_earlier_value(convert_cells, import_package):
    cells = [
        ("parameters", "flag = False"),
        ("step:a", "v = 0"),
        ("step:b", "if flag:\n    v = 1"),
        ("step:c", "w = v"),
    ]
    _pipe, folder = convert_cells(cells, name="cond")
    pipeline = import_package(folder)
    assert run_in_process(pipeline)["c"]["w"] == 0
    assert run_in_process(pipeline, flag=True)["c"]["w"] == 1


# ---------------------------------------------------------------- templates


def test_templates_load_from_the_installed_package(write_nb, tmp_path, monkeypatch):
    root = importlib.resources.files("nb2pipe.templates")
    for name in ("step.py.j2", "pipeline.py.j2", "README.md.j2", "ruff.toml", "main.py.j2"):
        assert root.joinpath(name).is_file(), name
    nb = write_nb([("step:a", "x = 1")], name="tpl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # nothing found relative to the repository
    monkeypatch.delenv("NB2PIPE_TEMPLATES", raising=False)
    api.convert(nb, tmp_path / "tpl_pkg")
    assert (tmp_path / "tpl_pkg" / "steps" / "a.py").is_file()


# ---------------------------------------------------------------- built aside, moved whole


def test_failing_conversion_leaves_an_existing_folder_untouched(write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1")], name="keep")
    out = tmp_path / "keep_pkg"
    api.convert(nb, out)
    before = _tree(out)
    write_nb([("step:a", "x = undefined_name")], name="keep")
    with pytest.raises(Nb2pipeError):
        api.convert(nb, out)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.ipynb", "keep_pkg"]


def test_failure_while_building_leaves_nothing_behind(write_nb, tmp_path, monkeypatch):
    nb = write_nb([("step:a", "x = 1")], name="late")
    out = tmp_path / "late_pkg"
    api.convert(nb, out)
    before = _tree(out)
    write_nb([("step:a", "x = 2")], name="late")

    def broken(_folder: Path) -> None:
        raise OutputError("ruff exploded")

    monkeypatch.setattr(codegen, "format_tree", broken)
    with pytest.raises(OutputError):
        api.convert(nb, out)
    assert _tree(out) == before
    with pytest.raises(OutputError):
        api.convert(nb, tmp_path / "fresh_pkg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.ipynb", "late_pkg"]


def test_user_files_survive_reconversion(write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1")], name="user")
    out = tmp_path / "user_pkg"
    api.convert(nb, out)
    (out / "notes.md").write_text("mine\n")
    (out / "steps" / "helpers.py").write_text("VALUE = 1\n")
    (out / "data").mkdir()
    (out / "data" / "x.csv").write_text("a\n1\n")
    write_nb([("step:a", "x = 2")], name="user")
    api.convert(nb, out)
    assert (out / "notes.md").read_text() == "mine\n"
    assert (out / "steps" / "helpers.py").read_text() == "VALUE = 1\n"
    assert (out / "data" / "x.csv").read_text() == "a\n1\n"
    assert "x = 2" in (out / "steps" / "a.py").read_text()


def test_a_folder_nb2pipe_did_not_generate_needs_force(write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1")], name="mine")
    out = tmp_path / "mine_pkg"
    (out / "steps").mkdir(parents=True)
    (out / "steps" / "a.py").write_text("# my own code\n")
    (out / "keep.txt").write_text("mine\n")
    with pytest.raises(OutputError, match="not a package nb2pipe generated") as info:
        api.convert(nb, out)
    assert "--force" in str(info.value)
    assert (out / "steps" / "a.py").read_text() == "# my own code\n"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "keep.txt", "steps", "steps/a.py"
    ]  # fmt: skip
    api.convert(nb, out, force=True)
    assert "Generated by nb2pipe" in (out / "steps" / "a.py").read_text()
    assert (out / "keep.txt").read_text() == "mine\n"


def test_output_folder_must_be_an_identifier(write_nb, tmp_path):
    nb = write_nb([("step:a", "x = 1")], name="ident")
    with pytest.raises(OutputError, match="identifier"):
        api.convert(nb, tmp_path / "my-pipeline")
    assert not (tmp_path / "my-pipeline").exists()


def test_python_m_package_help_runs(sample_packages):
    """`python -m <package> --help` works from the folder that contains the package."""
    proc = subprocess.run(
        [sys.executable, "-m", "iris_kale", "--help"],
        cwd=sample_packages,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--param" in proc.stdout


def _run(pipeline: Any, tmp_path: Path) -> Any:
    from nb2pipe.runtime import run

    return run(pipeline, runs_dir=tmp_path / "runs", quiet=True, progress="none")


def test_converted_package_runs_with_the_runtime(convert_cells, import_package, tmp_path):
    cells = [
        ("parameters", "n = 3"),
        ("step:a", "xs = list(range(n))"),
        ("step:b", "total = sum(xs)"),
    ]
    _pipe, folder = convert_cells(cells, name="rt")
    result = _run(import_package(folder), tmp_path)
    assert result.ok, result.error
    assert result.load("b", "total") == 3


def test_terminal_step_with_values_that_cannot_be_stored_runs(
    convert_cells, import_package, tmp_path
):
    cells = [
        ("step:a", "with open('data.txt', 'w') as fh:\n    fh.write('1')"),
        ("step:b", "with open('data.txt') as fh:\n    text = fh.read()\nsq = lambda v: v * v"),
    ]
    _pipe, folder = convert_cells(cells, name="unstorable")
    result = _run(import_package(folder), tmp_path)
    assert result.ok, result.error
    assert result.load("b", "text") == "1"


def test_source_layout_survives_indentation(convert_cells, import_package):
    """Multi-line strings keep their text, tabs and continuations still parse, decorators
    and docstrings are kept, Unicode identifiers are identifiers."""
    cells = [
        (
            "step:a",
            'text = """line one\n  indented two\nthree"""\nq = f"""a{1 +\n1}b"""\n'
            "val = 1 + \\\n    2\nif val:\n\tdeep = 'tab'\n# trailing comment",
        ),
        (
            "step:b",
            "def deco(f):\n    return f\n\n@deco\ndef g(v):\n    '''Doc\n    string.'''\n"
            "    return v * 2\nr = g(val)\nr",
        ),
        ("step:c", "größe = len(text)\nres = (text, q, r, deep, größe)"),
    ]
    _pipe, folder = convert_cells(cells, name="layout")
    _check_clean(folder)
    out = run_in_process(import_package(folder))
    assert out["c"]["res"] == ("line one\n  indented two\nthree", "a2b", 6, "tab", 29)
