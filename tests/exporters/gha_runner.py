"""A GitHub Actions runner for one exported workflow, on this machine: what a fresh
ubuntu-latest runner would do with it, without the network.

- ``actions/checkout``: a copy of the repository folder (without its ``runs/``);
- ``actions/setup-python``: a new virtual environment (``python -m venv``, pip from
  ensurepip) holding nothing but pip; nb2pipe's dependencies are made visible to it by a
  ``.pth`` file pointing at the cached ``runner`` venv (what ``pip install`` would bring),
  so the workflow's own ``pip install`` lines install nb2pipe, offline (``PIP_NO_INDEX``,
  ``PIP_FIND_LINKS`` to a wheel of this checkout and the build backend's wheels);
- ``run:`` steps: ``bash --noprofile --norc -eo pipefail``, with the job's and the step's
  ``env:`` after ``${{ }}`` expressions are replaced (github.run_id, run_attempt, inputs.*,
  secrets.*, env.*), ``CI=true`` as on GitHub;
- ``actions/cache``: restores the newest entry whose key starts with a ``restore-keys``
  prefix (or the exact key) into the workspace, and saves the ``path:`` list under the key
  when the job succeeded (as the action's post step does);
- ``actions/upload-artifact``: copies ``path`` out of the workspace.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def fresh_python(folder: Path, deps_venv: Path) -> Path:
    """A new venv with pip only; the cached venv's packages visible through a .pth file."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    site = next((folder / "lib").glob("python*/site-packages"))
    deps = next((deps_venv / "lib").glob("python*/site-packages"))
    (site / "zz_runner_deps.pth").write_text(f"{deps}\n")
    return folder


@dataclass
class Job:
    ok: bool
    steps: list[tuple[str, int, str]] = field(default_factory=list)  # name, code, output
    artifacts: Path | None = None

    def output(self, name: str) -> str:
        return next(text for step, _, text in self.steps if step == name)


def _expand(text: str, ctx: dict[str, str]) -> str:
    return _EXPR.sub(lambda m: ctx.get(m.group(1), ""), text)


def run_job(
    workflow: Path,
    repo: Path,
    work: Path,
    *,
    python: Path,
    cache: dict[str, Path],
    find_links: list[Path],
    run_id: int = 101,
    inputs: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
) -> Job:
    """Run the workflow's one job in ``work`` (its workspace, artifacts and cache copies)."""
    wf = yaml.safe_load(workflow.read_text())
    (job,) = wf["jobs"].values()
    ctx = {"github.run_id": str(run_id), "github.run_attempt": "1"}
    ctx.update({f"inputs.{k}": v for k, v in (inputs or {}).items()})
    ctx.update({f"secrets.{k}": v for k, v in (secrets or {}).items()})
    job_env = {k: _expand(str(v), ctx) for k, v in job.get("env", {}).items()}
    ctx.update({f"env.{k}": v for k, v in job_env.items()})
    workspace, artifacts = work / "workspace", work / "artifacts"
    base_env = {
        "PATH": f"{python / 'bin'}{os.pathsep}/usr/bin:/bin",
        "HOME": str(work / "home"),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": " ".join(str(p) for p in find_links),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONNOUSERSITE": "1",
        "LANG": "C.UTF-8",
    }
    (work / "home").mkdir(parents=True, exist_ok=True)
    result = Job(ok=True, artifacts=artifacts)
    saves: list[tuple[str, list[str]]] = []
    for step in job["steps"]:
        uses, name = step.get("uses", ""), step.get("name") or step.get("uses", "run")
        if not result.ok and step.get("if") != "always()":
            continue
        if uses.startswith("actions/checkout@"):
            shutil.copytree(repo, workspace, ignore=shutil.ignore_patterns("runs"))
        elif uses.startswith("actions/cache@"):
            paths = str(step["with"]["path"]).split()
            key = _expand(str(step["with"]["key"]), ctx)
            prefix = _expand(str(step["with"].get("restore-keys", "")), ctx)
            hits = [k for k in cache if k == key] or sorted(
                k for k in cache if prefix and k.startswith(prefix)
            )
            if hits:
                shutil.copytree(cache[hits[-1]], workspace, dirs_exist_ok=True)
            saves.append((key, paths))
        elif uses.startswith("actions/upload-artifact@"):
            source = workspace / _expand(str(step["with"]["path"]), ctx)
            if source.exists():
                shutil.copytree(source, artifacts / source.name)
        elif "run" in step:
            env = {**base_env, **job_env}
            env.update({k: _expand(str(v), ctx) for k, v in step.get("env", {}).items()})
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=workspace, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            result.steps.append((name, proc.returncode, proc.stdout + proc.stderr))
            result.ok = result.ok and proc.returncode == 0
    for key, paths in saves if result.ok else []:
        if key not in cache:
            saved = work / "cache" / key
            for p in paths:
                if (workspace / p).exists():
                    shutil.copytree(workspace / p, saved / p)
            cache[key] = saved
    return result


def workflow_env(workflow: Path) -> dict[str, Any]:
    return yaml.safe_load(workflow.read_text())["jobs"]["pipeline"]["env"]
