"""export: the same pipeline for an orchestrator or CI.

The command's options are generated from the options the installed exporters declare
(``Exporter.options``): ``--NAME VALUE`` for each (``--NAME/--no-NAME`` for a bool), with
the targets that take it in its help, so a plugin's options appear without a line here.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from nb2pipe.frontends.cli._common import app, err, guard

_OWN = {"target", "directory", "output", "option"}  # the command's own parameters


def _declared() -> dict[str, tuple[Any, list[tuple[str, str]]]]:
    """{option name: (its first declaration, [(target, help)])} over the installed
    exporters (a broken plugin is left out here; exporting with it names the error)."""
    from nb2pipe import exporters

    merged: dict[str, tuple[Any, list[tuple[str, str]]]] = {}
    for target in exporters.available():
        try:
            exporter = exporters.get(target)
        except exporters.ExportError:
            continue
        for opt in exporter.options:
            if opt.name in _OWN or not opt.name.isidentifier():
                continue
            first, helps = merged.setdefault(opt.name, (opt, []))
            helps.append((target, opt.help))
            if first.type is not opt.type:  # declared with two types: text, checked later
                merged[opt.name] = (type(first)(first.name, first.help, str), helps)
    return merged


def _parameter(name: str, opt: Any, helps: list[tuple[str, str]]) -> inspect.Parameter:
    flag = "--" + name.replace("_", "-")
    decls = [f"{flag}/--no-{name.replace('_', '-')}"] if opt.type is bool else [flag]
    kind = {bool: bool, int: int}.get(opt.type, str)
    by_help: dict[str, list[str]] = {}
    for target, text in helps:
        by_help.setdefault(text, []).append(target)
    shown = "; ".join(f"{', '.join(targets)}: {text}" for text, targets in by_help.items())
    return inspect.Parameter(
        f"opt_{name}",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(None, *decls, help=shown + "."),
        annotation=kind | None,
    )


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
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Any option of the target (repeatable), e.g. --set package_path=/dags.",
        ),
    ] = None,
    **declared: Any,
) -> None:
    """Export a generated pipeline for an orchestrator or a CI: an Airflow DAG, a Kubeflow
    Pipelines pipeline (compiled to YAML) or a GitHub Actions workflow."""

    def body() -> None:
        from nb2pipe.exporters import ExportError
        from nb2pipe.exporters import export as run_export

        opts: dict[str, Any] = {k.removeprefix("opt_"): v for k, v in declared.items()}
        for item in option or []:
            key, sep, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise ExportError(f"--set expects KEY=VALUE, got {item!r}")
            opts[key] = {"true": True, "false": False}.get(value.strip().lower(), value)
        result, said = run_export(target, directory, output, opts)
        for note in result.notes:
            err(f"note: {note}")
        for path in result.files:
            typer.echo(f"wrote {path}")
        for line in said:
            typer.echo(line)

    guard(body)


_signature = inspect.signature(export, eval_str=True)
export.__signature__ = _signature.replace(  # type: ignore[attr-defined]
    parameters=[
        *(p for p in _signature.parameters.values() if p.kind is not p.VAR_KEYWORD),
        *(_parameter(name, opt, helps) for name, (opt, helps) in _declared().items()),
    ]
)
app.command()(export)
