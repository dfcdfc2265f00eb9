"""``nb2pipe export github-actions DIR``: a workflow that keeps the pipeline honest and fresh.

It installs the package's requirements, checks that the package is in sync with its
notebook (``nb2pipe convert NOTEBOOK -o DIR --check``), runs the pipeline with its artifact
store kept by ``actions/cache`` (so unchanged steps come from the cache), uploads the run's
folder as an artifact, and runs on a schedule (cron), on a change of the notebook or the
package, and on demand (``workflow_dispatch``, with the parameters as inputs).

Paths in a workflow are relative to the repository's root: the git checkout that holds
DIR (``--set repo_root=PATH`` to say otherwise). Values from the notebook reach the YAML
only as JSON strings, and reach the shell only through environment variables: no ``run:``
line holds a path, a name or an expression (GitHub's script-injection rule), and a path
holding ``${{`` (which GitHub would evaluate even inside ``env:``) is refused.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2pipe import __version__
from nb2pipe.exporters.base import (
    ExportContext,
    Exporter,
    ExportError,
    ExportResult,
    Option,
    render_template,
)
from nb2pipe.runtime.project import runs_location

_CRON = re.compile(r"^[0-9*/,A-Za-z-]+( [0-9*/,A-Za-z-]+){4}$")
_INPUT_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_INPUTS = 10  # GitHub's limit on workflow_dispatch inputs (one is the YAML mapping)
_INPUT_TYPES = {int: "number", float: "number", bool: "boolean"}


def repo_root(start: Path) -> Path:
    """The git work tree that holds ``start``, else the current directory."""
    for folder in [start, *start.parents]:
        if (folder / ".git").exists():
            return folder
    return Path.cwd().resolve()


def _rel(path: Path, root: Path, what: str) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise ExportError(
            f"the {what} {path} is outside the repository {root}",
            hint="give --set repo_root=PATH, the folder the workflow checks out",
        ) from None


class GithubActionsExporter(Exporter):
    name = "github-actions"
    summary = "a GitHub Actions workflow: sync check, run, upload, scheduled retraining"
    options = (
        Option("schedule", "cron expression of the retraining (default: Mondays 03:00 UTC)"),
        Option("python_version", "Python of the job (default: X.Y of this Python)"),
        Option(
            "nb2pipe_requirement",
            "pip requirement nb2pipe is installed from (default: nb2pipe==the version that "
            "generated the package; the checkout itself in nb2pipe's own repository)",
        ),
        Option(
            "run_options",
            "more options of `nb2pipe run`, e.g. '--max-regression accuracy=0.02' "
            "(shell words; default: none)",
        ),
        Option("repo_root", "the repository's root (default: the git checkout holding DIR)"),
        Option("timeout", "minutes the job may run", int, 60),
    )

    def default_output(self, ctx: ExportContext, options: Mapping[str, Any]) -> Path:
        root = Path(options["repo_root"]).resolve() if options["repo_root"] else None
        root = root or repo_root(ctx.package_dir)
        return root / ".github" / "workflows" / f"{ctx.pipeline.name}.yml"

    def render(self, ctx: ExportContext, output: Path, options: Mapping[str, Any]) -> ExportResult:
        pipeline = ctx.pipeline
        notes: list[str] = []
        root = Path(options["repo_root"]).resolve() if options["repo_root"] else None
        root = root or repo_root(ctx.package_dir)
        package_dir = _rel(ctx.package_dir, root, "package")
        if ctx.notebook is None:
            raise ExportError("the package does not name its notebook (pipeline.py)")
        notebook = _rel(ctx.notebook, root, "notebook")
        schedule = (options["schedule"] or "0 3 * * 1").strip()
        if not _CRON.fullmatch(schedule):
            raise ExportError(f"--schedule {schedule!r}: GitHub takes a 5-field cron expression")
        version = options["python_version"] or f"{sys.version_info[0]}.{sys.version_info[1]}"
        if not re.fullmatch(r"3\.\d+", version):
            raise ExportError(f"--python-version {version!r}: expected 3.X")
        timeout = int(options["timeout"])
        if not 1 <= timeout <= 360 * 6:
            raise ExportError("--set timeout=N: minutes between 1 and 2160")
        spec = options["nb2pipe_requirement"] or default_requirement(pipeline, root)
        runs = _rel(runs_location(start=ctx.package_dir, fallback=root).path, root, "runs folder")
        run_options = _run_options(options["run_options"])
        if output.suffix not in (".yml", ".yaml"):
            raise ExportError(f"-o {output}: a workflow is a .yml file")
        try:
            workflow_path = output.resolve().relative_to(root).as_posix()
        except ValueError:
            workflow_path = f".github/workflows/{output.name}"
            notes.append(f"{output} is not in the repository: GitHub reads {workflow_path}")

        inputs, secrets = [], []
        for p in pipeline.parameters:
            if p.secret:
                env = p.env or p.name
                if not _ENV.fullmatch(env):
                    raise ExportError(f"secret parameter {p.name!r}: bad variable name {env!r}")
                secrets.append({"name": env, "expr": f"${{{{ secrets.{env} }}}}"})
                continue
            if (
                len(inputs) >= _MAX_INPUTS - 1
                or not _INPUT_ID.fullmatch(p.name)
                or p.name == "params"
            ):
                notes.append(f"parameter {p.name!r} is settable through the `params` input only")
                continue
            kind = _INPUT_TYPES.get(p.type, "string") if not p.optional else "string"
            default = None
            if kind == "boolean":  # GitHub always sends a boolean: the package's default
                default = "true" if p.default else "false"
            help_text = p.help or p.name
            if kind == "string" and p.type is not str:
                help_text += " (YAML, as for nb2pipe run -p)"
            inputs.append(
                {
                    "id": p.name,
                    "description": f"{help_text} [default: {p.default!r}]",
                    "type": kind,
                    "default": default,
                    "env": f"NB2PIPE_P{len(inputs) + 1}",
                    "expr": f"${{{{ inputs.{p.name} }}}}",
                }
            )
        if secrets:
            notes.append(
                "add these repository secrets (Settings > Secrets and variables > Actions): "
                + ", ".join(s["name"] for s in secrets)
            )
        for s in pipeline.steps:
            if s.files:
                notes.append(
                    f"step {s.name!r} reads {', '.join(s.files)}: commit them, or fetch them "
                    "in a step before the run"
                )
        if "\n" in spec or spec.startswith("-"):
            raise ExportError(f"--nb2pipe-requirement {spec!r}: one pip requirement")
        requirements = f"{package_dir}/requirements.txt"
        for what, text in (("notebook path", notebook), ("package path", package_dir),
                           ("--nb2pipe-requirement", spec), ("runs folder", runs),
                           ("run_options", "\n".join(run_options))):  # fmt: skip
            if "${{" in text:
                raise ExportError(
                    f"the {what} {text!r} holds '${{{{', which GitHub Actions evaluates as an "
                    "expression wherever it appears",
                    hint="rename it",
                )
        text = render_template(
            "exporters/github_workflow.yml.j2",
            package_dir=package_dir,
            notebook=notebook,
            workflow_name=f"pipeline {pipeline.name}",
            workflow_path=workflow_path,
            schedule=schedule,
            inputs=inputs,
            secrets=secrets,
            concurrency=f"nb2pipe-{pipeline.name}-${{{{ github.ref }}}}",
            timeout=timeout,
            python_version=version,
            requirements=requirements,
            nb2pipe_requirement=spec,
            runtime_checkout=spec == ".",  # nb2pipe's own checkout: nb2pipe-runtime from it too
            pipeline_name=pipeline.name,
            runs_dir=runs,
            cache_paths=[f"{runs}/store", f"{runs}/registry"],
            run_options="\n".join(run_options),
            cache_prefix=f"nb2pipe-runs-{pipeline.name}-",
            run_suffix="${{ github.run_id }}-${{ github.run_attempt }}",
            artifact_name=f"{pipeline.name}-run-${{{{ env.RUN_ID }}}}",
            artifact_path=f"{runs}/${{{{ env.RUN_ID }}}}",
            params_expr="${{ inputs.params }}",
        )
        _check_yaml(text, output.name)
        return ExportResult({output: text}, notes)

    def finish(
        self, ctx: ExportContext, output: Path, options: Mapping[str, Any], result: ExportResult
    ) -> list[str]:
        return ["commit it; the workflow also runs from Actions > Run workflow"]


def default_requirement(pipeline: Any, root: Path) -> str:
    """nb2pipe pinned to the version that generated the package; ``.`` (the checkout) when
    the repository is nb2pipe's own."""
    try:
        from nb2pipe.runtime.project import read_toml

        own = read_toml(root / "pyproject.toml").get("project", {}).get("name") == "nb2pipe"
    except Exception:  # noqa: BLE001 - no or an unreadable pyproject.toml: not nb2pipe's
        own = False
    if own:
        return "."
    version = pipeline.generated_by or __version__
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version):
        raise ExportError(f"the package records an odd nb2pipe version {version!r}")
    return f"nb2pipe=={version}"


def _run_options(text: str | None) -> list[str]:
    """``--set run_options=...`` as shell words, each an option or its value."""
    import shlex

    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise ExportError(f"--set run_options: {exc}") from None
    if words and not words[0].startswith("-"):
        raise ExportError(f"--set run_options {text!r}: options of `nb2pipe run`, e.g. --force")
    if any("\n" in w for w in words):
        raise ExportError("--set run_options: one line")
    return words


def _check_yaml(text: str, what: str) -> None:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ExportError(
            f"internal error: the exported {what} is not valid YAML: {exc}",
            hint="please report this with the notebook",
        ) from None
    if not isinstance(data, dict) or "jobs" not in data:
        raise ExportError(f"internal error: the exported {what} is not a workflow")
