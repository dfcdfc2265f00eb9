"""graph, report, tag: looking at a pipeline and its runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nb2pipe.frontends.cli._common import (
    NotebookArg,
    RunsDirOpt,
    SplitOpt,
    app,
    err,
    guard,
    runs_folder,
)


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
            "--run",
            help="Colour steps by this run: its folder, its id (or a prefix) in --runs-dir, or latest.",
        ),
    ] = None,
    runs_dir: RunsDirOpt = None,
    split_on: SplitOpt = None,
) -> None:
    """Draw the DAG: steps, the variables on its edges, the parameters each step reads."""

    def body() -> None:
        from nb2pipe.viz import graph as viz

        kind = viz.format_for(output, fmt)
        where = runs_folder(runs_dir, say=False) if run_id is not None else None
        dag, warnings = viz.build(target, run=run_id, runs_dir=where, split_on=split_on)
        for w in warnings:
            err(f"warning: {w}")
        text = viz.render(dag, kind)
        if output == "-":
            typer.echo(text, nl=False)
            return
        out = Path(output or {"html": "dag.html", "mermaid": "dag.mmd", "dot": "dag.dot"}[kind])
        viz.write_text(out, text)
        typer.echo(f"wrote {out} ({len(dag.steps)} steps, {kind})")

    guard(body)


@app.command()
def report(
    run_id: Annotated[
        str,
        typer.Argument(
            metavar="RUN", help="A run folder, a run id (or a prefix) in --runs-dir, or latest."
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    runs_dir: RunsDirOpt = None,
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

        html, run_dir, warnings = build_report(
            run_id, runs_dir=runs_folder(runs_dir, say=False), pipeline=pipeline
        )
        for w in warnings:
            err(f"warning: {w}")
        viz.write_text(output, html)
        typer.echo(f"wrote {output} (run {run_dir})")

    guard(body)


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

    guard(body)


# --- runs, models, drift (nb2pipe.mlops.runs, .models, .drift) ------------------------------
