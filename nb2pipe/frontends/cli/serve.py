"""serve, monitor: a registered model behind an HTTP API, and its prediction log watched."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from nb2pipe.errors import Nb2pipeError
from nb2pipe.frontends.cli._common import RunsDirOpt, app, err, guard, registry_folder
from nb2pipe.frontends.cli.ops import JsonOpt, RegistryOpt, TrackingOpt, TrackingUriOpt

LogUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--log-url",
        help="Prediction log: postgresql://USER@HOST/DB, sqlite:///PATH or a file "
        "(default: RUNS_DIR/predictions.db).",
    ),
]


class ServeError(Nb2pipeError):
    """Bad options, an unknown model, a missing extra (exit 2)."""


def _user_errors() -> Any:
    import contextlib

    from nb2pipe.mlops.drift import DriftError
    from nb2pipe.mlops.monitor import MonitorError
    from nb2pipe.mlops.predlog import LogError
    from nb2pipe.mlops.registry import RegistryError
    from nb2pipe.runtime.errors import UsageError

    @contextlib.contextmanager
    def wrap() -> Any:
        try:
            yield
        except (RegistryError, DriftError, UsageError, LogError, MonitorError) as exc:
            raise ServeError(" ".join(str(exc).split())) from None

    return wrap()


@app.command()
def serve(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="NAME[:VERSION]",
            help="The model: NAME follows its champion, NAME:ALIAS that alias, NAME:3 is pinned.",
        ),
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Server processes.")] = 1,
    log_url: LogUrlOpt = None,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between two reads of the alias followed.")
    ] = 2.0,
    max_batch: Annotated[
        int, typer.Option("--max-batch", help="Rows (or labels) per request; more is a 413.")
    ] = 10_000,
    batching: Annotated[
        bool,
        typer.Option(
            "--batching/--no-batching",
            help="Predict concurrent requests in one call (rows must be independent).",
        ),
    ] = True,
    fsync: Annotated[
        bool,
        typer.Option(
            "--fsync/--no-fsync",
            help="SQLite log: each commit on disk before the answer (--no-fsync: in the OS; "
            "survives a killed server, not a power cut).",
        ),
    ] = True,
    redact: Annotated[
        list[str] | None,
        typer.Option("--redact", help="A feature never written to the log (repeatable)."),
    ] = None,
    runs_dir: RunsDirOpt = None,
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Serve a registered model over HTTP (POST /predict, POST /feedback, GET /health,
    GET /model, /docs); every prediction is logged before it is answered."""

    def body() -> None:
        try:
            import uvicorn

            from nb2pipe.mlops.serve import CONFIG_ENV, ServeConfig, Service, create_app
        except ImportError as exc:
            raise ServeError(
                f"nb2pipe serve needs the serve extra ({exc.name} is missing): "
                "pip install 'nb2pipe[serve]'"
            ) from None
        if workers < 1 or max_batch < 1 or poll <= 0:
            raise ServeError("--workers and --max-batch must be >= 1, --poll > 0")
        where_runs = registry_folder(tracking, registry, runs_dir, say=False)
        cfg = ServeConfig(
            ref=ref, runs_dir=str(where_runs), registry=str(registry) if registry else None,
            tracking=tracking, tracking_uri=tracking_uri, log_url=log_url, poll=poll,
            max_batch=max_batch, redact=list(redact or []), batching=batching,
            fsync=fsync,
        )  # fmt: skip
        with _user_errors():
            service = Service(cfg)  # the model loads here: a bad name is one line, exit 2
            from nb2pipe.mlops.predlog import open_log

            where = open_log(log_url, where_runs)
            where.close()
        follows = f"following {service.follow}" if service.follow else "pinned"
        err(
            f"serving {service.current.version.label} ({follows}) on http://{host}:{port} "
            f"with {workers} worker(s); prediction log: {where.url}"
        )
        options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning",
                                   "access_log": False, "timeout_graceful_shutdown": 30}  # fmt: skip
        if workers == 1:
            uvicorn.run(create_app(cfg, service), **options)
        else:
            os.environ[CONFIG_ENV] = cfg.to_env()
            uvicorn.run("nb2pipe.mlops.serve:app_from_env", factory=True, workers=workers,
                        **options)  # fmt: skip

    guard(body)


@app.command()
def monitor(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The model whose log to read.")],
    window: Annotated[
        str, typer.Option("--window", help="A period (1h, 30m, 1d) or a count (1000).")
    ] = "1h",
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only the last period (24h, 7d) of the log."),
    ] = None,
    psi: Annotated[float, typer.Option("--psi", help="PSI above this is drift.")] = 0.2,
    max_drop: Annotated[
        str,
        typer.Option("--max-drop", help="Live metric worse than registered by more (or 5%)."),
    ] = "0.05",
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="Registered metric to follow (default: the primary)."),
    ] = None,
    min_rows: Annotated[int, typer.Option("--min-rows", help="Drift needs this many.")] = 30,
    min_labels: Annotated[
        int, typer.Option("--min-labels", help="Live metric needs this many labels.")
    ] = 20,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write an offline HTML page with plots.")
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write the labelled predictions (.parquet, .csv, .jsonl)."),
    ] = None,
    label_column: Annotated[
        str | None,
        typer.Option("--label-column", help="Label column of --export (default: the target)."),
    ] = None,
    log_url: LogUrlOpt = None,
    runs_dir: RunsDirOpt = None,
    registry: RegistryOpt = None,
    tracking: TrackingOpt = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Drift, prediction drift and live performance of a served model, per window of its
    prediction log; exit 1 when the latest window crosses a threshold."""

    def body() -> int:
        import time

        from nb2pipe.mlops import monitor as mon
        from nb2pipe.mlops.predlog import open_log
        from nb2pipe.mlops.registry import check_name, open_registry

        with _user_errors():
            spec = mon.parse_window(window)
            drop = mon.parse_drop(max_drop)
            period = mon.parse_window(since) if since else None
            if period is not None and period.kind != "time":
                raise mon.MonitorError("--since takes a period such as 24h or 7d")
            start = time.time() - period.size if period is not None else None
            where_runs = registry_folder(tracking, registry, runs_dir, say=False)
            reg = open_registry(tracking, registry=registry, runs_dir=where_runs, uri=tracking_uri)
            log = open_log(log_url, where_runs, create=False)
            try:
                rows = log.read(check_name(name), start)
            finally:
                log.close()
            if not rows:
                raise mon.MonitorError(f"no predictions of {name!r} in the log {log.url}")
            versions = {n: _version(reg, name, n) for n in sorted({r.version for r in rows})}
            report = mon.monitor(
                name, rows, {n: v for n, v in versions.items() if v is not None},
                window=spec, psi=psi, max_drop=drop, metric=metric, min_rows=min_rows,
                min_labels=min_labels,
            )  # fmt: skip
            if export is not None:
                latest = versions[max(n for n, v in versions.items() if v is not None)]
                schema = latest.meta.schema if latest else {}
                label = label_column or (schema or {}).get("target") or "label"
                frame = mon.labelled_frame(rows, schema, label)
                mon.write_frame(frame, export)
                err(f"wrote {len(frame)} labelled predictions to {export} (label: {label})")
        if html is not None:
            from nb2pipe.viz.monitor import write_page

            write_page(report, html)
            err(f"wrote {html}")
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2, default=str))
        else:
            _print(report)
        return report.exit_code

    raise typer.Exit(guard(body))


def _version(reg: Any, name: str, number: int) -> Any:
    from nb2pipe.mlops.monitor import Version
    from nb2pipe.mlops.registry import RegistryError

    try:
        mv = reg.get(name, number)
    except RegistryError:
        return None
    return Version(mv, reg.reference(mv))


def _few(names: list[str], n: int = 3) -> str:
    if len(names) <= n:
        return ", ".join(names)
    return f"{len(names)}: {', '.join(names[:n])}, ..."


def _print(report: Any) -> None:
    import time

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"{report.model}: windows of {report.window} (PSI > {report.thresholds['psi']} is drift)"
    )
    for col in ("window", "from (UTC)", "n", "labels", "version", "drifted", "pred PSI",
                "live / registered", "status"):  # fmt: skip
        table.add_column(col)
    for w in report.windows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(w.start))
        perf = "" if w.live is None else f"{w.metric} {w.live:.3f}"
        if w.registered is not None:
            perf += f" / {w.registered:.3f}" if perf else f"{w.metric} - / {w.registered:.3f}"
        pred = "" if w.prediction is None or w.prediction.psi is None else f"{w.prediction.psi:.3f}"
        status = "[bold red]crossed[/]" if w.flags else "[green]ok[/]"
        table.add_row(str(w.index + 1), when, str(w.count), str(w.labelled), str(w.version),
                      escape(_few(w.drifted)), pred, escape(perf), status)  # fmt: skip
    console = Console()
    console.print(table)
    latest = report.windows[-1] if report.windows else None
    if latest and latest.flags:
        for flag in latest.flags:
            console.print(f"[bold red]latest window:[/] {escape(flag)}")
    else:
        console.print("latest window: within every threshold")
    sys.stdout.flush()
