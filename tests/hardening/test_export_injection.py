"""Notebook text in exported files, through the real CLI (`nb2pipe convert`, then `nb2pipe
export`): GitHub Actions evaluates `${{ }}` before any shell runs, Airflow renders docs
with Jinja and reads a doc_md ending in `.md` as a file, KFP substitutes `{{$...}}`
placeholders in a component's source and quotes pip requirements with Python's repr.

So: no notebook-derived text in a `run:` line (paths and names arrive through `env:`), a
path holding `${{` is refused, every `${{ }}` of the job is one nb2pipe wrote; docs and
descriptions reach Airflow and KFP inert; a requirement that could leave its quotes is
refused.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from hardening_helpers import write_notebook

EXE = Path(sys.executable).with_name("nb2pipe")
EXPR = "${{ github.event.head_commit.message }}"
#: the expressions nb2pipe itself writes in a job; anything else came from somewhere else
OURS = re.compile(
    r"\$\{\{ (github\.(run_id|run_attempt|ref)|env\.RUN_ID|inputs\.[A-Za-z_][A-Za-z0-9_]*"
    r"|secrets\.[A-Za-z_][A-Za-z0-9_]*) \}\}"
)
JINJA = jinja2.Environment(keep_trailing_newline=True)  # Airflow 2 renders doc_md with Jinja
HOSTILE_DOC = (
    "## Train\n\nSee {{ 7*7 }} {% if true %}yes{% endif %} {# note #} "
    + EXPR
    + " {{$.inputs.parameters['p_k_factor']}} and /etc/hostname.md"
)
CELLS: list[Any] = [
    ("parameters", f"k_factor = 2  # help {EXPR} {{{{ conf }}}}\nlabel_name = 'x'"),
    ("md", HOSTILE_DOC),
    ("step:train", "model = [k_factor, label_name]"),
    ("md", "Scoring, documented in notes.md"),
    ("step:score", "score = len(model)"),
]


def cli(*args: Any, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=180,
        check=False,
    )  # fmt: skip


def repo_package(tmp_path: Path, notebook_name: str, folder: str = "pipelines") -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    nb = write_notebook(repo / "nb" / notebook_name, CELLS)
    out = repo / folder / "hostile"
    proc = cli("convert", nb, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


def refused(proc: Any, *words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "\n" not in err and err.startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in err, err


# --- GitHub Actions ---------------------------------------------------------------------------


def test_a_notebook_named_with_an_expression_is_refused(tmp_path: Path) -> None:
    pkg = repo_package(tmp_path, f"nb{EXPR}.ipynb")
    refused(cli("export", "github-actions", pkg), "notebook path", "'${{'")
    assert not (tmp_path / "repo" / ".github").exists()


def test_a_package_path_with_an_expression_is_refused(tmp_path: Path) -> None:
    pkg = repo_package(tmp_path, "nb.ipynb", folder="p${{ secrets.X }}")
    refused(cli("export", "github-actions", pkg), "package path", "'${{'")
    assert not (tmp_path / "repo" / ".github").exists()


def test_run_lines_hold_no_notebook_text_and_the_job_only_our_expressions(tmp_path: Path) -> None:
    pkg = repo_package(tmp_path, "odd name; $(touch x) `id`.ipynb")
    proc = cli("export", "github-actions", pkg)
    assert proc.returncode == 0, proc.stderr
    (workflow,) = (tmp_path / "repo" / ".github" / "workflows").iterdir()
    job = yaml.safe_load(workflow.read_text())["jobs"]["pipeline"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "${{" not in runs
    derived = ["odd", "touch", "id`", "hostile", "pipelines/", "nb/", "train", "score",
               "k_factor", "label_name"]  # fmt: skip
    assert [text for text in derived if text in runs] == []
    assert job["env"]["NB2PIPE_NOTEBOOK"] == "nb/odd name; $(touch x) `id`.ipynb"
    for value in re.findall(r"\$\{\{.*?\}\}", yaml.safe_dump(job, width=10_000)):
        assert OURS.fullmatch(value), value


# --- Airflow ----------------------------------------------------------------------------------


def _keyword_strings(tree: ast.Module, name: str) -> list[str]:
    return [
        ast.literal_eval(k.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for k in node.keywords
        if k.arg == name
    ]


def test_airflow_docs_are_inert(tmp_path: Path) -> None:
    pkg = repo_package(tmp_path, "nb.ipynb")
    out = tmp_path / "dag.py"
    proc = cli("export", "airflow", pkg, "-o", out)
    assert proc.returncode == 0, proc.stderr
    tree = ast.parse(out.read_text())
    docs = _keyword_strings(tree, "doc_md") + _keyword_strings(tree, "description")
    assert len(docs) == 4, docs  # the DAG, two tasks, one parameter's help
    assert any("7*7" in d for d in docs) and any("conf" in d for d in docs)  # the text is there
    for doc in docs:
        assert JINJA.from_string(doc).render() == doc  # no Jinja syntax left
        assert not doc.endswith(".md"), doc


# --- Kubeflow Pipelines -------------------------------------------------------------------------


def test_kfp_docstrings_and_description_are_inert(tmp_path: Path) -> None:
    pkg = repo_package(tmp_path, "nb.ipynb")
    out = tmp_path / "kfp_pipeline.py"
    proc = cli("export", "kfp", pkg, "-o", out, "--no-compile")
    assert proc.returncode == 0, proc.stderr
    tree = ast.parse(out.read_text())
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("step_")]
    docs = [ast.get_docstring(f, clean=False) or "" for f in funcs]
    docs += _keyword_strings(tree, "description")
    assert any("7*7" in d for d in docs)
    for doc in docs:
        assert "{{" not in doc and "{%" not in doc, doc


@pytest.mark.parametrize("requirement", ["evil'; touch /tmp/x; '", 'x"$(id)"', "a\\b"])
def test_kfp_refuses_a_requirement_that_could_leave_its_quotes(
    tmp_path: Path, requirement: str
) -> None:
    pkg = repo_package(tmp_path, "nb.ipynb")
    with (pkg / "requirements.txt").open("a") as f:
        f.write(requirement + "\n")
    out = tmp_path / "kfp_pipeline.py"
    refused(cli("export", "kfp", pkg, "-o", out, "--no-compile"), "requirement")
    assert not out.exists()
