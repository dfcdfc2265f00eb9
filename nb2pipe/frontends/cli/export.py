"""export: the same pipeline for an orchestrator or CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nb2pipe.frontends.cli._common import (
    app,
    err,
    guard,
)


@app.command()
def export(
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET",
            help="airflow, kfp or github-actions (or an installed exporter plugin).",
        ),
    ],
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="The package folder written by convert.")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="File to write (default: <name>_dag.py, <name>_kfp.py, "
            ".github/workflows/<name>.yml).",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="airflow: artifact store every worker reaches, a path or an fsspec URL "
            "such as s3://bucket/prefix (default: ./runs/store).",
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            help="airflow, github-actions: cron expression (airflow also @daily, ...).",
        ),
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", help="airflow, kfp: retries of a failing task.")
    ] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="kfp: base image of the components (default: python:X.Y)."),
    ] = None,
    nb2pipe_requirement: Annotated[
        str | None,
        typer.Option(
            "--nb2pipe-requirement",
            metavar="SPEC",
            help="kfp, github-actions: install nb2pipe from this pip requirement "
            "(kfp default: embed its runtime in each component).",
        ),
    ] = None,
    compile_yaml: Annotated[
        bool | None,
        typer.Option(
            "--compile/--no-compile",
            help="kfp: compile the pipeline to YAML next to it (default: when kfp is importable).",
        ),
    ] = None,
    python_version: Annotated[
        str | None,
        typer.Option("--python-version", help="github-actions: Python of the job (default: X.Y)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Any other option of the target (repeatable), e.g. --set package_path=/dags.",
        ),
    ] = None,
) -> None:
    """Export a generated pipeline for an orchestrator or a CI: an Airflow DAG, a Kubeflow
    Pipelines pipeline (compiled to YAML) or a GitHub Actions workflow."""

    def body() -> None:
        from nb2pipe.exporters import ExportError, export

        opts: dict[str, Any] = {
            "store": store,
            "schedule": schedule,
            "retries": retries,
            "image": image,
            "nb2pipe_requirement": nb2pipe_requirement,
            "compile": compile_yaml,
            "python_version": python_version,
        }
        for item in option or []:
            key, sep, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise ExportError(f"--set expects KEY=VALUE, got {item!r}")
            opts[key] = {"true": True, "false": False}.get(value.strip().lower(), value)
        result, said = export(target, directory, output, opts)
        for note in result.notes:
            err(f"note: {note}")
        for path in result.files:
            typer.echo(f"wrote {path}")
        for line in said:
            typer.echo(line)

    guard(body)
