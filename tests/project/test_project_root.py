"""One home for runs and the registry: the project root (nearest folder up with
nb2pipe.toml, pyproject.toml or .git), its settings, and every command agreeing on it."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from project_helpers import REPO, environ, make_project, record, run_ids, sh, write_notebook

from nb2pipe.runtime import project
from nb2pipe.runtime.errors import UsageError


def test_the_root_is_the_nearest_folder_up_with_a_marker(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    deep = tmp_path / "repo" / "app" / "notebooks" / "eda"
    deep.mkdir(parents=True)
    assert project.find_root(deep) == tmp_path / "repo"
    (tmp_path / "repo" / "app" / "pyproject.toml").write_text("")
    assert project.find_root(deep) == tmp_path / "repo" / "app"
    (deep / "nb2pipe.toml").write_text("")
    assert project.find_root(deep) == deep


def test_runs_folder_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(project.RUNS_ENV, raising=False)
    root = tmp_path / "p"
    (root / "sub").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.nb2pipe]\nruns-dir = 'var/runs'\n")
    loc = project.runs_location(start=root / "sub")
    assert loc.path == root / "var" / "runs"
    assert "runs_dir in" in loc.why and "pyproject.toml" in loc.why
    (root / "nb2pipe.toml").write_text("")  # nb2pipe.toml wins, even empty
    assert project.runs_location(start=root / "sub").path == root / "runs"
    monkeypatch.setenv(project.RUNS_ENV, str(tmp_path / "env-runs"))
    assert project.runs_location(start=root).path == tmp_path / "env-runs"
    assert project.runs_location(tmp_path / "given", start=root).path == tmp_path / "given"


def test_no_root_means_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(project.RUNS_ENV, raising=False)
    if project.find_root(tmp_path) is not None:
        pytest.skip("the temporary folder is inside a project")
    monkeypatch.chdir(tmp_path)
    loc = project.runs_location(start=tmp_path)
    assert loc.path == tmp_path / "runs"
    assert "no project root" in loc.why


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run_dir = 'x'", "unknown setting 'run_dir' (did you mean 'runs_dir'?)"),
        ("strict = 'yes'", "strict must be a boolean"),
        ("tracking = 'wandb'", "tracking must be 'local' or 'mlflow'"),
        ("runs_dir = ", "invalid TOML"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "nb2pipe.toml").write_text(text + "\n")
    with pytest.raises(UsageError, match="nb2pipe.toml") as info:
        project.load(tmp_path)
    assert message in str(info.value)


def test_the_lab_panel_reads_runs_where_the_cli_writes_them(tmp_path: Path) -> None:
    nbs = make_project(tmp_path / "proj")
    sys.path.insert(0, str(REPO / "jupyterlab"))
    try:
        service = importlib.import_module("nb2pipe_lab.service")
    finally:
        sys.path.remove(str(REPO / "jupyterlab"))
    assert service.runs_dir(nbs / "tiny.ipynb") == tmp_path / "proj" / "runs"


@pytest.mark.integration
def test_cli_python_m_models_and_load_model_share_the_projects_runs(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    nbs = make_project(root)
    assert sh(nbs, "nb2pipe", "convert", "tiny.ipynb", "-o", "pipelines/tiny").returncode == 0
    first = sh(nbs, "nb2pipe", "run", "pipelines/tiny", "--run-id", "first")
    assert first.returncode == 0, first.stderr
    second = sh(nbs, "python", "-m", "pipelines.tiny", "--run-id", "second", "-p", "shift=0.5")
    assert second.returncode == 0, second.stderr
    assert run_ids(root / "runs") == ["first", "second"]
    assert not (nbs / "runs").exists()
    assert record(root / "runs" / "second")["models"]["threshold"]["version"] == 2

    listed = sh(root, "nb2pipe", "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == ["second", "first"]
    table = sh(root, "nb2pipe", "runs", "list")
    assert table.stdout.splitlines()[0] == (
        f"runs folder: {root / 'runs'} (project root {root}, found by its pyproject.toml)"
    )
    (nbs / "eda").mkdir()
    models = sh(nbs / "eda", "nb2pipe", "models", "show", "threshold", "--json")
    assert models.returncode == 0, models.stderr
    assert json.loads(models.stdout)["version"]["version"] == 2
    shown = sh(nbs / "eda", "nb2pipe", "models", "list")
    assert shown.stdout.startswith(f"registry: {root / 'runs' / 'registry'} (runs folder: ")
    loaded = sh(nbs, "python", "-c", "import nb2pipe; print(nb2pipe.load_model('threshold'))")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "{'cut': 5.5}"


@pytest.mark.integration
def test_settings_move_the_runs_and_say_so(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    nbs = make_project(root, pyproject='[tool.nb2pipe]\nruns_dir = "var/nb2pipe"\n')
    assert sh(nbs, "nb2pipe", "convert", "tiny.ipynb", "-o", "pipelines/tiny").returncode == 0
    done = sh(nbs, "nb2pipe", "run", "pipelines/tiny", "--run-id", "r1", "-q")
    assert done.returncode == 0, done.stderr
    assert run_ids(root / "var" / "nb2pipe") == ["r1"]
    assert (root / "var" / "nb2pipe" / "registry").is_dir()
    shown = sh(root, "nb2pipe", "runs", "show", "r1")
    assert shown.returncode == 0, shown.stderr
    assert f"runs folder: {root / 'var' / 'nb2pipe'} (runs_dir in {root / 'pyproject.toml'})" in (
        shown.stdout
    )
    missing = sh(root, "nb2pipe", "runs", "show", "nope")
    assert missing.returncode == 2
    assert f"no run 'nope' in {root / 'var' / 'nb2pipe'}" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
    given = sh(root, "nb2pipe", "runs", "list", "--runs-dir", "elsewhere")
    assert f"runs folder: {root / 'elsewhere'} (--runs-dir)" in given.stdout
    elsewhere = environ(NB2PIPE_RUNS_DIR=str(tmp_path / "from-env"))
    moved = sh(nbs, "python", "-m", "pipelines.tiny", "--run-id", "r2", "-q", env=elsewhere)
    assert moved.returncode == 0, moved.stderr
    assert run_ids(tmp_path / "from-env") == ["r2"]

    (root / "pyproject.toml").write_text('[tool.nb2pipe]\nrun_dir = "x"\n')
    bad = sh(nbs, "nb2pipe", "run", "pipelines/tiny")
    assert bad.returncode == 2
    assert "unknown setting 'run_dir' (did you mean 'runs_dir'?)" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.integration
def test_settings_give_convert_its_output_folder_and_strictness(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    nbs = make_project(root, pyproject=None)
    (root / "nb2pipe.toml").write_text('output = "pkgs"\nstrict = true\n')
    done = sh(nbs, "nb2pipe", "convert", "tiny.ipynb", "-q")
    assert done.returncode == 0, done.stderr
    assert (root / "pkgs" / "tiny" / "pipeline.py").is_file()
    write_notebook(nbs / "shell.ipynb", [("", "!echo hi"), ("step:a", "x = 1")])
    refused = sh(nbs, "nb2pipe", "convert", "shell.ipynb", "-o", "out")
    assert refused.returncode == 2, refused.stderr
    assert "shell.ipynb, cell 1" in refused.stderr and not (nbs / "out").exists()
    allowed = sh(nbs, "nb2pipe", "convert", "shell.ipynb", "-o", "out", "--no-strict")
    assert allowed.returncode == 0, allowed.stderr
