"""The `nb2pipe` command: options, output and exit codes. No logic lives here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from nb2pipe import __version__
from nb2pipe.errors import Nb2pipeError

app = typer.Typer(
    name="nb2pipe",
    help="Turn a tagged Jupyter notebook into a reproducible pipeline package.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
_state = {"debug": False}


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _guard(fn: Callable[[], Any]) -> Any:
    """Run a command body: our errors become one line and an exit code, never a traceback."""
    try:
        return fn()
    except Nb2pipeError as exc:
        if _state["debug"]:
            raise
        _err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug in nb2pipe: say so in one line
        if _state["debug"]:
            raise
        text = " ".join(str(exc).split())[:300]
        _err(f"internal error: {type(exc).__name__}: {text} (rerun with --debug and report it)")
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nb2pipe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug


def _print_diagnostics(diags: Any, *, notes: bool = False) -> None:
    for d in diags:
        if d.severity != "note" or notes:
            _err(str(d))


NotebookArg = Annotated[
    Path, typer.Argument(help="The notebook: .ipynb, or a jupytext percent-format .py.")
]
SplitOpt = Annotated[
    str | None,
    typer.Option(
        "--split-on",
        help="Without step tags, cut steps at headings of this level: h1, h2 or h3 "
        "(default: the shallowest level below the title).",
    ),
]


@app.command()
def convert(
    notebook: NotebookArg,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Package folder to write (default: pipelines/<name>)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Pipeline name (default: the notebook's).")
    ] = None,
    split_on: SplitOpt = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the package is out of date."),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on any equivalence warning.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite files in the output that nb2pipe did not write."),
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print errors only.")] = False,
) -> None:
    """Write the pipeline package for a notebook (built aside, moved into place whole)."""

    def body() -> None:
        from nb2pipe import api
        from nb2pipe.errors import StaleError

        pipe, out, files = api.convert(
            notebook, output, name=name, split_on=split_on, strict=strict, force=force, check=check
        )
        if not quiet:
            _print_diagnostics(pipe.diagnostics)
        if check:
            if files:
                raise StaleError(
                    f"{out} is out of date ({', '.join(files[:5])}"
                    f"{', ...' if len(files) > 5 else ''})",
                    hint=f"run `nb2pipe convert {notebook} -o {out}`",
                )
            if not quiet:
                typer.echo(f"{out} is up to date")
            return
        if not quiet:
            typer.echo(f"wrote {out} ({len(pipe.steps)} steps, {len(files)} files)")

    _guard(body)


@app.command()
def inspect(
    notebook: NotebookArg,
    split_on: SplitOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the steps, cells, inputs, outputs, parameters and diagnostics; write nothing."""

    def body() -> None:
        from nb2pipe import api, report

        pipe = api.load(notebook, split_on=split_on)
        if as_json:
            typer.echo(report.inspect_json(pipe))
        else:
            report.print_inspect(pipe)

    _guard(body)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run(
    ctx: typer.Context,
    directory: Annotated[
        Path | None, typer.Argument(help="The generated package folder.", show_default=False)
    ] = None,
) -> None:
    """Run a generated pipeline: the same options as `python -m <package>` (see --help)."""

    def body() -> int:
        from nb2pipe import api
        from nb2pipe.runtime import build_parser, main

        args = list(ctx.args)
        if directory is None or str(directory) in ("-h", "--help"):
            build_parser(prog="nb2pipe run DIR").print_help()
            return 0 if directory is not None or "--help" in args else 2
        return main(api.load_package(directory), args)

    raise typer.Exit(_guard(body))


@app.command()
def verify(
    notebook: NotebookArg,
    pipeline: Annotated[
        Path | None,
        typer.Option(
            "--pipeline", help="An existing generated package to check (default: convert now)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("-p", "--param", metavar="NAME=VALUE", help="Set a parameter (repeatable)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", metavar="S", help="Seconds a notebook cell may run."),
    ] = None,
    rtol: Annotated[
        float, typer.Option("--rtol", help="Relative tolerance for floating-point values.")
    ] = 1e-9,
    atol: Annotated[
        float, typer.Option("--atol", help="Absolute tolerance for floating-point values.")
    ] = 1e-12,
    split_on: SplitOpt = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the scratch folder (printed) for inspection.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print the verdict and differences only.")
    ] = False,
) -> None:
    """Run the notebook (papermill) and the pipeline with the same parameters and compare
    every step's outputs; exit 1 on any difference."""

    def body() -> int:
        from nb2pipe.verify import Tolerance
        from nb2pipe.verify import verify as run_verify
        from nb2pipe.verify.report import as_json as render_json
        from nb2pipe.verify.report import print_result

        result = run_verify(
            notebook, pipeline, None, timeout, param_args=list(param or []),
            tolerance=Tolerance(rtol=rtol, atol=atol), split_on=split_on, keep=keep,
        )  # fmt: skip
        if as_json:
            typer.echo(render_json(result))
        else:
            print_result(result, quiet=quiet)
        return result.exit_code

    raise typer.Exit(_guard(body))


RunsDirOpt = Annotated[
    Path, typer.Option("--runs-dir", help="Where runs are recorded (for a run id).")
]


@app.command()
def graph(
    target: Annotated[
        Path, typer.Argument(help="A notebook, or a package folder written by convert.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            help="File to write: .html (self-contained, works offline), .mmd (Mermaid) or "
            ".dot (Graphviz); '-' prints to stdout. Default: dag.html.",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="html, mermaid or dot (default: from the -o suffix)."),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run", help="Colour steps by this run: its folder, its id in --runs-dir, or latest."
        ),
    ] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    split_on: SplitOpt = None,
) -> None:
    """Draw the DAG: steps, the variables on its edges, the parameters each step reads."""

    def body() -> None:
        from nb2pipe.viz import graph as viz

        kind = viz.format_for(output, fmt)
        dag, warnings = viz.build(target, run=run_id, runs_dir=runs_dir, split_on=split_on)
        for w in warnings:
            _err(f"warning: {w}")
        text = viz.render(dag, kind)
        if output == "-":
            typer.echo(text, nl=False)
            return
        out = Path(output or {"html": "dag.html", "mermaid": "dag.mmd", "dot": "dag.dot"}[kind])
        viz.write_text(out, text)
        typer.echo(f"wrote {out} ({len(dag.nodes)} steps, {kind})")

    _guard(body)


@app.command()
def report(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="A run folder, a run id in --runs-dir, or latest.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    runs_dir: RunsDirOpt = Path("runs"),
    pipeline: Annotated[
        Path | None,
        typer.Option(
            "--pipeline",
            help="The package folder or notebook the run came from, for the full DAG "
            "(default: the run's package folder here, if any).",
        ),
    ] = None,
) -> None:
    """Write one self-contained HTML page for a run: DAG with status and durations,
    parameters, metrics, gates, figures and the tail of each step's log."""

    def body() -> None:
        from nb2pipe.viz import graph as viz
        from nb2pipe.viz.report import report as build_report

        html, run_dir, warnings = build_report(run_id, runs_dir=runs_dir, pipeline=pipeline)
        for w in warnings:
            _err(f"warning: {w}")
        viz.write_text(output, html)
        typer.echo(f"wrote {output} (run {run_dir})")

    _guard(body)


@app.command()
def tag(
    notebook: NotebookArg,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The tagged copy (default: <stem>.tagged.ipynb)."),
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Write the tags into NOTEBOOK itself.")
    ] = False,
    clear: Annotated[
        bool,
        typer.Option("--clear", help="Remove step:/block:/after:/prev: tags and directive words."),
    ] = False,
    split_on: Annotated[
        str | None,
        typer.Option(
            "--split-on",
            help="h1, h2 or h3: steps at headings of that level; flow: from the data flow "
            "(default: headings when there are any, else the data flow).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output file.")
    ] = False,
) -> None:
    """Propose step tags (from headings or the data flow) and write them into a copy."""

    def body() -> None:
        from nb2pipe.viz import tagger

        result = tagger.run(
            notebook, out=output, in_place=in_place, clear=clear, split_on=split_on, force=force
        )
        for line in tagger.describe(result):
            typer.echo(line)

    _guard(body)


# --- runs, models, drift (nb2pipe.runs, nb2pipe.models, nb2pipe.drift) ---------------------

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

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
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
    runs_dir: RunsDirOpt = Path("runs"),
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="Only runs of this pipeline.")
    ] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", help="How many (0: all).")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The latest runs, newest first."""

    def body() -> None:
        from nb2pipe import runs

        found = runs.list_runs(runs_dir, pipeline=pipeline, limit=limit or None)
        if as_json:
            typer.echo(runs.dumps(found))
        else:
            runs.print_list(found)

    _guard(body)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="A run id (or a prefix), a run folder, or latest.")
    ],
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
) -> None:
    """One run: parameters, metrics, steps, registered models."""

    def body() -> None:
        from nb2pipe import runs

        info = runs.show(run_id, runs_dir)
        if as_json:
            typer.echo(runs.dumps(info["record"]))
        else:
            runs.print_show(info)

    _guard(body)


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN RUN...", help="Two runs or more.")],
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
) -> None:
    """Runs side by side: status, parameters, metrics (best marked), step durations."""

    def body() -> None:
        from nb2pipe import runs

        data = runs.compare(run_ids, runs_dir)
        if as_json:
            typer.echo(runs.dumps(data))
        else:
            runs.print_compare(data)

    _guard(body)


@runs_app.command("gc")
def runs_gc(
    keep: Annotated[int, typer.Option("--keep", help="Runs to keep per pipeline (newest).")],
    runs_dir: RunsDirOpt = Path("runs"),
    store: Annotated[
        Path | None, typer.Option("--store", help="Artifact store (default: RUNS_DIR/store).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove old runs, and the artifacts and cache entries only they used."""

    def body() -> None:
        from nb2pipe import runs

        result = runs.gc(runs_dir, keep, store=store, dry_run=dry_run)
        if as_json:
            typer.echo(runs.dumps(result.to_json()))
        else:
            runs.print_gc(result)

    _guard(body)


@models_app.command("list")
def models_list(
    runs_dir: RunsDirOpt = Path("runs"),
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every registered model: its champion, number of versions, latest metrics."""

    def body() -> None:
        from nb2pipe import models

        with models.user_errors():
            reg = models._open(tracking, registry, runs_dir, tracking_uri)
            rows = models.list_models(reg)
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
        else:
            models.print_list(rows, reg.describe())

    _guard(body)


@models_app.command("show")
def models_show(
    ref: Annotated[
        str, typer.Argument(metavar="NAME[:VERSION]", help="A model, a version or an alias.")
    ],
    runs_dir: RunsDirOpt = Path("runs"),
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A version (default: the champion): run, parameters, metrics, data and code hashes."""

    def body() -> None:
        from nb2pipe import models

        with models.user_errors():
            reg = models._open(tracking, registry, runs_dir, tracking_uri)
            info = models.show_model(reg, ref)
        if as_json:
            typer.echo(json.dumps(info, indent=2, default=str))
        else:
            models.print_show(info)

    _guard(body)


@models_app.command("promote")
def models_promote(
    ref: Annotated[str, typer.Argument(metavar="NAME:VERSION", help="The version to point to.")],
    alias: Annotated[str, typer.Option("--alias", help="The pointer to move.")] = "champion",
    runs_dir: RunsDirOpt = Path("runs"),
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Point the champion (or another alias) at a version: a rollback."""

    def body() -> None:
        from nb2pipe import models

        with models.user_errors():
            reg = models._open(tracking, registry, runs_dir, tracking_uri)
            v = models.promote(reg, ref, alias)
        typer.echo(f"{v['name']}:{v['version']} is now {alias}")

    _guard(body)


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
    runs_dir: RunsDirOpt = Path("runs"),
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare new data with the training data of a registered model, feature by feature;
    exit 1 when a feature drifted."""

    def body() -> int:
        from nb2pipe import drift as drift_mod
        from nb2pipe import models

        with models.user_errors():
            report = drift_mod.check(
                ref, data, method=method, threshold=threshold, tracking=tracking,
                registry=registry, runs_dir=runs_dir, uri=tracking_uri,
            )  # fmt: skip
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2, default=str))
        else:
            drift_mod.print_report(report)
        return report.exit_code

    raise typer.Exit(_guard(body))


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
            _err(f"note: {note}")
        for path in result.files:
            typer.echo(f"wrote {path}")
        for line in said:
            typer.echo(line)

    _guard(body)


def main() -> None:
    app(prog_name="nb2pipe")


if __name__ == "__main__":
    sys.exit(main())
