"""Stale packages: a notebook edited since convert is a one-line warning naming the
command to run (an error under --strict, the project's strict setting or CI=true); and a
notebook runs directly (`nb2pipe run NOTEBOOK`), converted into a cached package."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from project_helpers import environ, make_project, record, run_ids, sh

from nb2pipe import api
from nb2pipe.codegen import package as codegen
from nb2pipe.compiler import notebook
from nb2pipe.runtime import freshness


def edit(nb_path: Path, cell: int, source: str) -> None:
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[cell].source = source
    nbformat.write(nb, nb_path)


def test_the_runtime_hash_is_converts(tmp_path: Path) -> None:
    """Computed from JSON alone (no nbformat), equal to convert's, blind to outputs and
    execution counts, sensitive to sources, tags and cell types."""
    nbs = make_project(tmp_path / "p")
    path = nbs / "tiny.ipynb"
    expected = codegen.notebook_hash(notebook.read(path))
    assert freshness.notebook_digest(path) == expected
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hi\n")]
    nb.cells[2].execution_count = 7
    nb.cells[2].source = nb.cells[2].source.replace("\n", "\r\n")
    nbformat.write(nb, path)
    assert freshness.notebook_digest(path) == expected
    for change in ("tags", "source", "type"):
        nb = nbformat.read(path, as_version=4)
        if change == "tags":
            nb.cells[3].metadata["tags"] = ["step:other"]
        elif change == "source":
            nb.cells[3].source += "\n"
        else:
            nb.cells[3] = nbformat.v4.new_markdown_cell(nb.cells[3].source)
        nbformat.write(nb, tmp_path / "changed.ipynb")
        assert freshness.notebook_digest(tmp_path / "changed.ipynb") != expected, change


def test_percent_scripts_are_hashed_through_the_reader(tmp_path: Path) -> None:
    script = tmp_path / "nb.py"
    script.write_text("# %%\nimport math\n\n# %% tags=['step:a']\nx = math.pi\n")
    assert freshness.notebook_digest(script) == codegen.notebook_hash(notebook.read(script))
    assert freshness.notebook_digest(tmp_path / "missing.ipynb") is None


@pytest.mark.integration
def test_a_percent_script_found_fresh_is_not_parsed_again(tmp_path: Path) -> None:
    """A percent script is read by jupytext (nbformat, jsonschema: a second or more of
    imports): once found fresh, the same bytes are not read again; an edit still is."""
    import subprocess
    import sys

    script = tmp_path / "nb.py"
    script.write_text("# %%\nimport math\n\n# %% tags=['step:a']\nx = math.pi\n")
    api.convert(script, tmp_path / "pkg")
    probe = (
        "import sys\nfrom pathlib import Path\nfrom pkg.pipeline import PIPELINE\n"
        "from nb2pipe.runtime import freshness\n"
        "print(freshness.check(PIPELINE, Path('pkg'), strict=False))\n"
        "print('jupytext' in sys.modules)\n"
    )

    def check() -> list[str]:
        out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                             text=True, check=True)  # fmt: skip
        return out.stdout.split("\n")[-3:-1]

    assert check() == ["None", "True"]  # the first time: read through jupytext
    assert check() == ["None", "False"]  # the same bytes: not parsed
    script.write_text(script.read_text() + "y = 1\n")
    warning, parsed = check()
    assert "is stale" in warning and parsed == "True"


@pytest.mark.integration
def test_a_stale_package_warns_and_strict_or_ci_refuse(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    nbs = make_project(root)
    assert sh(nbs, "nb2pipe", "convert", "tiny.ipynb", "-o", "pipelines/tiny").returncode == 0
    fresh = sh(nbs, "nb2pipe", "run", "pipelines/tiny", "-q")
    assert fresh.returncode == 0 and "stale" not in fresh.stderr
    edit(nbs / "tiny.ipynb", 3, "model = {'cut': 2 * sum(values) / len(values) + shift}")

    warned = sh(nbs, "python", "-m", "pipelines.tiny", "-q", "--run-id", "old")
    assert warned.returncode == 0, warned.stderr
    line = (
        "[nb2pipe] warning: pipelines/tiny is stale: tiny.ipynb changed since it was "
        "converted; run `nb2pipe convert tiny.ipynb -o pipelines/tiny`"
    )
    assert line in warned.stderr.splitlines()
    assert record(root / "runs" / "old")["notebook_stale"] is True
    for args, env in (
        (["--strict"], environ()),
        ([], environ(CI="true")),
    ):
        refused = sh(nbs, "nb2pipe", "run", "pipelines/tiny", "--run-id", "no", *args, env=env)
        assert refused.returncode == 2, refused.stderr
        assert "is stale" in refused.stderr and "--strict" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    (root / "pyproject.toml").write_text("[tool.nb2pipe]\nstrict = true\n")
    assert sh(nbs, "python", "-m", "pipelines.tiny", "-q").returncode == 2
    assert "no" not in run_ids(root / "runs")

    assert sh(nbs, "nb2pipe", "convert", "tiny.ipynb", "-o", "pipelines/tiny").returncode == 0
    again = sh(
        nbs, "nb2pipe", "run", "pipelines/tiny", "-q", "--run-id", "new", env=environ(CI="true")
    )
    assert again.returncode == 0, again.stderr
    assert record(root / "runs" / "new")["notebook_stale"] is False


@pytest.mark.integration
def test_run_a_notebook_directly(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    nbs = make_project(root)
    first = sh(nbs, "nb2pipe", "run", "tiny.ipynb", "-p", "shift=1", "--run-id", "a")
    assert first.returncode == 0, first.stderr
    [home] = (root / "runs" / "packages").iterdir()
    assert f"converted tiny.ipynb into {home / 'tiny'}" in first.stderr
    rec = record(root / "runs" / "a")
    assert rec["parameters"]["shift"] == 1.0 and rec["status"] == "ok"
    assert rec["command"] == ["nb2pipe", "run", "tiny.ipynb", "-p", "shift=1", "--run-id", "a"]

    cached = sh(nbs, "nb2pipe", "run", "tiny.ipynb", "--run-id", "b", "-p", "shift=1")
    assert cached.returncode == 0 and "converted" not in cached.stderr
    assert set(record(root / "runs" / "b")["steps"][s]["status"] for s in ("load", "train")) == {
        "cached"
    }
    help_text = sh(nbs, "nb2pipe", "run", "tiny.ipynb", "--help")
    assert help_text.returncode == 0 and "shift" in help_text.stdout

    edit(nbs / "tiny.ipynb", 3, "model = {'cut': 3.0 + shift}")
    changed = sh(nbs, "nb2pipe", "run", "tiny.ipynb", "--run-id", "c", "-v")
    assert changed.returncode == 0, changed.stderr
    assert len(list((root / "runs" / "packages").iterdir())) == 2
    assert "[nb2pipe] train ok" in changed.stdout and "code changed" in changed.stdout
    listed = json.loads(sh(root, "nb2pipe", "runs", "list", "--json").stdout)
    assert [r["run_id"] for r in listed] == ["c", "b", "a"]  # packages/ is not a run

    elsewhere = sh(nbs, "nb2pipe", "run", "tiny.ipynb", "-q", "--runs-dir", str(tmp_path / "other"))
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert len(list((tmp_path / "other" / "packages").iterdir())) == 1  # beside its runs

    bad = sh(nbs, "nb2pipe", "run", "data.json")
    assert bad.returncode == 2 and "not a Jupyter notebook" in bad.stderr


def test_cached_package_is_keyed_by_content_and_place(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("NB2PIPE_RUNS_DIR", raising=False)
    nbs = make_project(tmp_path / "p")
    folder, pipe = api.cached_package(nbs / "tiny.ipynb")
    assert pipe is not None and folder.name == "tiny"
    with monkeypatch.context() as m:  # reused without compiling the notebook again
        m.setattr(api, "load", lambda *a, **k: pytest.fail("compiled a cached notebook"))
        assert api.cached_package(nbs / "tiny.ipynb") == (folder, None)
    edit(
        nbs / "tiny.ipynb", 3, "# changed\n" + nbformat.read(nbs / "tiny.ipynb", 4).cells[3].source
    )
    changed, pipe = api.cached_package(nbs / "tiny.ipynb")
    assert pipe is not None and changed != folder  # an edit: converted again
    (nbs / "copy").mkdir()
    (nbs / "copy" / "tiny.ipynb").write_bytes((nbs / "tiny.ipynb").read_bytes())
    other, _ = api.cached_package(nbs / "copy" / "tiny.ipynb")
    assert other != folder  # another place: another package (its working directory differs)
