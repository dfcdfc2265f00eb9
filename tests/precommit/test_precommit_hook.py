"""`nb2pipe check` (convert --check for several notebooks) and the pre-commit hook
nb2pipe-check of .pre-commit-hooks.yaml, run by the real `pre-commit` on a scratch git
repository: a fresh package commits, an edited notebook without reconvert does not (the
stale files named), a reconverted one does.

The hook runs the nb2pipe of the committing environment (language `unsupported`): pre-commit
builds no environment, so nothing reaches a package index (PIP_NO_INDEX makes sure: a hook
language that installed packages would fail here instead of downloading them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nb2pipe.frontends.cli.precommit import split_pair

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_notebooks" / "wine_classifier.ipynb"
BIN = Path(sys.executable).parent


def env_for(tmp: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PRE_COMMIT_HOME=str(tmp / "pre-commit-home"),
        PIP_NO_INDEX="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )


def sh(cwd: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def nb2pipe(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return sh(cwd, env, str(BIN / "nb2pipe"), *args)


def edit_step(notebook: Path, step: str, line: str) -> None:
    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if f"step:{step}" in c["metadata"].get("tags", []))
    cell["source"] = "".join(cell["source"]).rstrip("\n") + "\n" + line + "\n"
    notebook.write_text(json.dumps(nb, indent=1))


def project(tmp: Path, env: dict[str, str]) -> Path:
    """A user's project: a notebook and its converted package."""
    root = tmp / "project"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(SAMPLE, root / "notebooks" / "wine.ipynb")
    done = nb2pipe(root, env, "convert", "notebooks/wine.ipynb", "-o", "pipelines/wine", "-q")
    assert done.returncode == 0, done.stderr
    return root


def test_split_pair():
    assert split_pair("notebooks/wine.ipynb:pipelines/wine") == (
        "notebooks/wine.ipynb",
        "pipelines/wine",
    )
    assert split_pair("nb/a.py:out/a") == ("nb/a.py", "out/a")
    assert split_pair("notebooks/wine.ipynb") == ("notebooks/wine.ipynb", None)
    assert split_pair(r"C:\work\wine.ipynb:pipelines/wine") == (r"C:\work\wine.ipynb", "pipelines/wine")  # fmt: skip
    assert split_pair(r"C:\work\wine.ipynb") == (r"C:\work\wine.ipynb", None)


@pytest.mark.integration
def test_check_names_stale_files_and_exits_by_the_worst(tmp_path: Path):
    env = env_for(tmp_path)
    root = project(tmp_path, env)
    ok = nb2pipe(root, env, "check", "notebooks/wine.ipynb:pipelines/wine")
    assert ok.returncode == 0, ok.stderr
    assert "pipelines/wine is up to date with notebooks/wine.ipynb" in ok.stdout
    before = {p: p.read_bytes() for p in (root / "pipelines").rglob("*") if p.is_file()}

    edit_step(root / "notebooks" / "wine.ipynb", "train_forest", "print('edited')")
    stale = nb2pipe(root, env, "check", "notebooks/wine.ipynb:pipelines/wine")
    assert stale.returncode == 1
    first = stale.stderr.splitlines()[0]
    assert first.startswith("error: pipelines/wine is out of date with notebooks/wine.ipynb: ")
    assert "steps/train_forest.py" in first and "steps/load.py" not in first
    assert "nb2pipe convert notebooks/wine.ipynb -o pipelines/wine" in stale.stderr
    # a notebook alone: convert's default folder pipelines/<name>
    alone = nb2pipe(root, env, "check", "-q", "notebooks/wine.ipynb")
    assert alone.returncode == 1 and alone.stderr == stale.stderr
    shutil.copy(SAMPLE, root / "notebooks" / "churn.ipynb")
    never = nb2pipe(root, env, "check", "notebooks/churn.ipynb")
    assert never.returncode == 1
    assert (
        "pipelines/churn is out of date with notebooks/churn.ipynb: no such folder" in never.stderr
    )
    # every pair is checked; a notebook that does not convert is an error (exit 2)
    both = nb2pipe(root, env, "check", "notebooks/missing.ipynb", "notebooks/wine.ipynb:pipelines/wine")  # fmt: skip
    assert both.returncode == 2
    assert "notebooks/missing.ipynb" in both.stderr and "steps/train_forest.py" in both.stderr
    assert "Traceback" not in both.stderr
    # check writes nothing
    after = {p: p.read_bytes() for p in (root / "pipelines").rglob("*") if p.is_file()}
    assert after == before
    assert nb2pipe(root, env, "check").returncode == 2  # no notebook given: a usage error


def hook_repo(tmp: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A git repository holding this checkout's .pre-commit-hooks.yaml (all a hook of
    language `unsupported` needs), committed: pre-commit clones it by path and rev."""
    repo = tmp / "hooks"
    repo.mkdir()
    shutil.copy(REPO / ".pre-commit-hooks.yaml", repo / ".pre-commit-hooks.yaml")
    for argv in (("git", "init", "-q"), ("git", "add", "."), ("git", "commit", "-qm", "hooks")):
        assert sh(repo, env, *argv).returncode == 0
    rev = sh(repo, env, "git", "rev-parse", "HEAD").stdout.strip()
    return repo, rev


@pytest.mark.integration
def test_pre_commit_hook_blocks_a_stale_package(tmp_path: Path):
    manifest = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in manifest] == ["nb2pipe-check"]
    env = env_for(tmp_path)
    hooks, rev = hook_repo(tmp_path, env)
    root = project(tmp_path, env)
    config = {
        "repos": [
            {
                "repo": str(hooks),
                "rev": rev,
                "hooks": [{"id": "nb2pipe-check", "args": ["notebooks/wine.ipynb:pipelines/wine"]}],
            }
        ]
    }
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    pre_commit = (sys.executable, "-m", "pre_commit")
    for argv in (("git", "init", "-q"), (*pre_commit, "install"), ("git", "add", ".")):
        done = sh(root, env, *argv)
        assert done.returncode == 0, done.stdout + done.stderr

    def commit(message: str) -> subprocess.CompletedProcess[str]:
        return sh(root, env, "git", "commit", "-m", message)

    fresh = commit("a fresh package")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "nb2pipe packages are up to date" in fresh.stdout + fresh.stderr

    edit_step(root / "notebooks" / "wine.ipynb", "train_forest", "print('edited')")
    sh(root, env, "git", "add", "notebooks/wine.ipynb")
    stale = commit("edited without reconvert")
    out = stale.stdout + stale.stderr
    assert stale.returncode != 0, out
    assert "Failed" in out and "pipelines/wine is out of date" in out
    assert "steps/train_forest.py" in out and "pipeline.py" in out
    log = sh(root, env, "git", "log", "--oneline").stdout.splitlines()
    assert len(log) == 1  # the commit was refused

    assert nb2pipe(root, env, "convert", "notebooks/wine.ipynb", "-o", "pipelines/wine", "-q").returncode == 0  # fmt: skip
    sh(root, env, "git", "add", "-A")
    again = commit("reconverted")
    assert again.returncode == 0, again.stdout + again.stderr
    # pre-commit built no environment for the hook: only its clone of the hooks repository
    home = Path(env["PRE_COMMIT_HOME"])
    assert not list(home.rglob("pyvenv.cfg"))
