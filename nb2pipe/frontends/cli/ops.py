"""runs, models, drift: the history of runs and the model registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nb2pipe.frontends.cli._common import (
    JsonOpt,
    RunsDirOpt,
    app,
    guard,
    open_registry,
    registry_folder,
    runs_folder,
)

runs_app = typer.Typer(
    help="Past runs: status, parameters, metrics and durations; gc of old runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
models_app = typer.Typer(
    help="Registered models: versions, their runs, metrics, data and code hashes.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(runs_app, name="runs")
app.add_typer(models_app, name="models")

TrackingOpt = Annotated[
    str | None,
    typer.Option("--tracking", help="local or mlflow (default: $NB2PIPE_TRACKING, else local)."),
]
TrackingUriOpt = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)."),
]
RegistryOpt = Annotated[
    Path | None,
    typer.Option("--registry", help="Local registry folder (default: RUNS_DIR/registry)."),
]


@runs_app.command("list")
def runs_list(
    runs_dir: RunsDirOpt = None,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="Only runs of this pipeline.")
    ] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", help="How many (0: all).")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The latest runs, newest first."""

    def body() -> None:
        from nb2pipe.frontends.cli import runs_tables
        from nb2pipe.mlops import runs

        found = runs.list_runs(
            runs_folder(runs_dir, say=not as_json), pipeline=pipeline, limit=limit or None
        )
        if as_json:
            typer.echo(runs.dumps(found))
        else:
            runs_tables.print_list(found)

    guard(body)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="A run id (or a prefix), a run folder, or latest.")
    ],
    runs_dir: RunsDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One run: parameters, metrics, steps, registered models."""

    def body() -> None:
        from nb2pipe.frontends.cli import runs_tables
        from nb2pipe.mlops import runs

        info = runs.show(run_id, runs_folder(runs_dir, say=not as_json))
        if as_json:
            typer.echo(runs.dumps(info["record"]))
        else:
            runs_tables.print_show(info)

    guard(body)


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN RUN...", help="Two runs or more.")],
    runs_dir: RunsDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Runs side by side: status, parameters, metrics (best marked), step durations."""

    def body() -> None:
        from nb2pipe.frontends.cli import runs_tables
        from nb2pipe.mlops import runs

        data = runs.compare(run_ids, runs_folder(runs_dir, say=not as_json))
        if as_json:
            typer.echo(runs.dumps(data))
        else:
            runs_tables.print_compare(data)

    guard(body)


@runs_app.command("gc")
def runs_gc(
    keep: Annotated[int, typer.Option("--keep", help="Runs to keep per pipeline (newest).")],
    runs_dir: RunsDirOpt = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Artifact store folder (default: RUNS_DIR/store).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove old runs, and the artifacts and cache entries only they used."""

    def body() -> None:
        from nb2pipe.frontends.cli import runs_tables
        from nb2pipe.mlops import runs

        result = runs.gc(runs_folder(runs_dir, say=not as_json), keep, store=store, dry_run=dry_run)
        if as_json:
            typer.echo(runs.dumps(result.to_json()))
        else:
            runs_tables.print_gc(result)

    guard(body)


@models_app.command("list")
def models_list(
    runs_dir: RunsDirOpt = None,
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every registered model: its champion, number of versions, latest metrics."""

    def body() -> None:
        from nb2pipe.frontends.cli import models_tables
        from nb2pipe.mlops import models

        with models.user_errors():
            reg = open_registry(tracking, registry, runs_dir, tracking_uri, say=not as_json)
            rows = models.list_models(reg)
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
        else:
            models_tables.print_list(rows, reg.describe())

    guard(body)


@models_app.command("show")
def models_show(
    ref: Annotated[
        str, typer.Argument(metavar="NAME[:VERSION]", help="A model, a version or an alias.")
    ],
    runs_dir: RunsDirOpt = None,
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A version (default: the champion): run, parameters, metrics, data and code hashes."""

    def body() -> None:
        from nb2pipe.frontends.cli import models_tables
        from nb2pipe.mlops import models

        with models.user_errors():
            reg = open_registry(tracking, registry, runs_dir, tracking_uri, say=not as_json)
            info = models.show_model(reg, ref)
        if as_json:
            typer.echo(json.dumps(info, indent=2, default=str))
        else:
            models_tables.print_show(info)

    guard(body)


@models_app.command("promote")
def models_promote(
    ref: Annotated[str, typer.Argument(metavar="NAME:VERSION", help="The version to point to.")],
    alias: Annotated[str, typer.Option("--alias", help="The pointer to move.")] = "champion",
    runs_dir: RunsDirOpt = None,
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Point the champion (or another alias) at a version: a rollback."""

    def body() -> None:
        from nb2pipe.mlops import models

        with models.user_errors():
            reg = open_registry(tracking, registry, runs_dir, tracking_uri, say=True)
            v = models.promote(reg, ref, alias)
        typer.echo(f"{v['name']}:{v['version']} is now {alias}")

    guard(body)


@app.command()
def drift(
    ref: Annotated[
        str, typer.Argument(metavar="NAME[:VERSION]", help="The model (default: its champion).")
    ],
    data: Annotated[
        Path, typer.Option("--data", help="New data: .csv, .tsv, .parquet, .json or .jsonl.")
    ],
    method: Annotated[
        str, typer.Option("--method", help="psi (numbers and categories) or ks (numbers).")
    ] = "psi",
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Drift above this (default: PSI 0.2, KS 0.1)."),
    ] = None,
    runs_dir: RunsDirOpt = None,
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare new data with the training data of a registered model, feature by feature;
    exit 1 when a feature drifted."""

    def body() -> int:
        from nb2pipe.frontends.cli import models_tables
        from nb2pipe.mlops import drift as drift_mod
        from nb2pipe.mlops import models

        with models.user_errors():
            report = drift_mod.check(
                ref, data, method=method, threshold=threshold, tracking=tracking,
                registry=registry, runs_dir=registry_folder(tracking, registry, runs_dir, say=not as_json),
                uri=tracking_uri,
            )  # fmt: skip
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2, default=str))
        else:
            models_tables.print_drift(report)
        return report.exit_code

    raise typer.Exit(guard(body))
