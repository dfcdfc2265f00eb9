"""convert, inspect, run, verify: the pipeline itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nb2pipe.frontends.cli._common import (
    JsonOpt,
    NotebookArg,
    SkipDefsOpt,
    SplitOpt,
    app,
    guard,
    print_diagnostics,
)


@app.command()
def convert(
    notebook: NotebookArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Package folder to write (default: <output>/<name> when the project's "
            "settings give `output`, else pipelines/<name>).",
        ),
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
        bool | None,
        typer.Option(
            "--strict/--no-strict",
            help="Fail on any equivalence warning (default: the project's `strict` setting).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a folder nb2pipe did not generate, or over files changed since "
            "it did (files its manifest does not list are never deleted).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print errors only.")] = False,
    include_skip_definitions: SkipDefsOpt = False,
) -> None:
    """Write the pipeline package for a notebook (only the files nb2pipe generated change)."""

    def body() -> None:
        from nb2pipe import api
        from nb2pipe.errors import StaleError

        pipe, out, files = api.convert(
            notebook, output, name=name, split_on=split_on, strict=strict, force=force,
            check=check, include_skip_definitions=include_skip_definitions,
        )  # fmt: skip
        if not quiet:
            print_diagnostics(pipe.diagnostics)
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

    guard(body)


@app.command()
def inspect(
    notebook: NotebookArg,
    split_on: SplitOpt = None,
    as_json: JsonOpt = False,
    include_skip_definitions: SkipDefsOpt = False,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            metavar="NAME",
            help="Say why NAME is an input or output of each step: the cells that write, "
            "read and change it.",
        ),
    ] = None,
) -> None:
    """Show the steps, cells, inputs, outputs, parameters and diagnostics; write nothing."""

    def body() -> None:
        from nb2pipe import api
        from nb2pipe.compiler import summary
        from nb2pipe.frontends.cli import inspect_view

        if explain:
            from nb2pipe import compiler
            from nb2pipe.compiler.explain import explain as why

            comp = compiler.compile(notebook, split_on=split_on,
                                    include_skip_definitions=include_skip_definitions)  # fmt: skip
            for line in why(comp, explain):
                typer.echo(line)
            return
        pipe = api.load(
            notebook, split_on=split_on, include_skip_definitions=include_skip_definitions
        )
        if as_json:
            typer.echo(summary.inspect_json(pipe))
        else:
            inspect_view.print_inspect(pipe)

    guard(body)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="The generated package folder, or a notebook (converted first into a "
            "cached package under the runs folder).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a generated pipeline (or a notebook): the same options as `python -m <package>`;
    `nb2pipe run DIR --help` lists the pipeline's parameters."""

    def body() -> int:
        from nb2pipe.frontends.run import run_command

        args = list(ctx.args)
        typed = ["nb2pipe", "run", *([str(directory)] if directory else []), *args]
        return run_command(directory, args, command=typed)

    raise typer.Exit(guard(body))


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
    as_json: JsonOpt = False,
    include_skip_definitions: SkipDefsOpt = False,
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
            include_skip_definitions=include_skip_definitions,
        )  # fmt: skip
        if as_json:
            typer.echo(render_json(result))
        else:
            print_result(result, quiet=quiet)
        return result.exit_code

    raise typer.Exit(guard(body))
