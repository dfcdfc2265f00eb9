"""The rich tables of ``nb2pipe runs list|show|compare|gc`` (the facts come from
:mod:`nb2pipe.mlops.runs`, which prints nothing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nb2pipe.mlops.runs import DEFAULT_ID, GcResult, command_line


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)[:60]
    return str(value)[:60]


def _time(iso: Any) -> str:
    return str(iso or "")[:19].replace("T", " ")


def _dur(value: Any) -> str:
    return f"{value:.2f}s" if isinstance(value, (int, float)) else ""


_STATUS = {"ok": "green", "failed": "red", "running": "yellow", "interrupted": "yellow"}


def _status(s: Any) -> str:
    colour = _STATUS.get(str(s))
    return f"[{colour}]{s}[/]" if colour else str(s)


def print_list(runs: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not runs:
        console.print("no runs")
        return
    pipelines = sorted({str(r["pipeline"]) for r in runs})
    one = len(pipelines) == 1
    table = Table(title=f"runs of {escape(pipelines[0])}" if one else "runs", title_justify="left")
    # default run ids are the start time already
    dated = all(DEFAULT_ID.match(str(r["run_id"])) for r in runs)
    table.add_column("run (UTC)" if dated else "run", no_wrap=True)
    if not one:
        table.add_column("pipeline")
    for col in ("status", *(() if dated else ("start (UTC)",)), "took", "steps", "metrics"):
        table.add_column(col, no_wrap=col != "metrics")
    table.add_column("models", no_wrap=True)
    for r in runs:
        steps = "\n".join(f"{n} {k}" for k, n in sorted(r["steps"].items()))
        metrics = "\n".join(f"{k}={_fmt(v)}" for k, v in list(r["metrics"].items())[:4])
        models = "\n".join(
            f"{k}:{m.get('version')}" for k, m in r["models"].items() if m.get("registered")
        )
        cells = [escape(str(r["run_id"]))]
        if not one:
            cells.append(escape(str(r["pipeline"])))
        cells += [
            _status(r["status"]),
            *(() if dated else (_time(r["start"])[5:],)),
            _dur(r["duration"]),
            steps,
            escape(metrics),
            escape(models),
        ]
        table.add_row(*cells)
    console.print(table)


def print_show(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    rec = info["record"]
    console.print(
        f"run [bold]{escape(str(info['run_id']))}[/] of {escape(str(info['pipeline']))}: "
        f"{_status(info['status'])}, started {_time(info['start'])} UTC, {_dur(info['duration'])}"
    )
    if info.get("error"):
        console.print(f"[red]error:[/] {escape(str(info['error']))}")
    if rec.get("command"):
        console.print(f"command: {escape(command_line(rec))}", soft_wrap=True)
        if isinstance(rec.get("cwd"), str):
            console.print(f"     in: {escape(rec['cwd'])}", soft_wrap=True)
    if isinstance(rec.get("storage"), dict):
        console.print(escape(_storage_line(rec["storage"], rec.get("store"))))
    if info["parameters"]:
        t = Table(title="parameters")
        t.add_column("name")
        t.add_column("value")
        for k, v in info["parameters"].items():
            t.add_row(escape(k), escape(_fmt(v)))
        console.print(t)
    if info["metrics"]:
        t = Table(title="metrics")
        for col in ("name", "value", "better", "step"):
            t.add_column(col)
        where = {m: s for s, st in rec["steps"].items() for m in ((st or {}).get("metrics") or {})}
        for k, v in info["metrics"].items():
            t.add_row(
                escape(k), _fmt(v), info["metric_directions"].get(k, ""), escape(where.get(k, ""))
            )
        console.print(t)
    t = Table(title="steps")
    for col in ("step", "status", "duration", "note"):
        t.add_column(col)
    for name, st in rec["steps"].items():
        st = st or {}
        note = (st.get("error") or {}).get("message") if st.get("error") else None
        if note is None and st.get("cached_from"):
            note = f"from run {st['cached_from']}"
        note = note or st.get("reason") or ""
        t.add_row(
            escape(name),
            _status(st.get("status")),
            _dur(st.get("duration")),
            escape(str(note)[:100]),
        )
    console.print(t)
    if info["models"]:
        t = Table(title="models")
        for col in ("model", "version", "note"):
            t.add_column(col)
        for k, m in info["models"].items():
            if m.get("registered"):
                note = ("new version" if m.get("new") else "same as before") + f", {m.get('alias')}"
            else:
                note = f"not registered: {m.get('reason', '')}"
            t.add_row(escape(k), str(m.get("version", "")), escape(note))
        console.print(t)


def _storage_line(storage: dict[str, Any], store: Any) -> str:
    """What the run stored: its artifacts, the bytes it added, the whole store's size."""
    mb = 2**20
    n = int(storage.get("artifacts") or 0)
    line = (
        f"store: {n} artifact{'' if n == 1 else 's'}, "
        f"{(storage.get('written') or 0) / mb:.1f} MB written by this run, "
        f"{(storage.get('bytes') or 0) / mb:.1f} MB of outputs"
    )
    objects = Path(str(store or "")) / "objects"
    if store and objects.is_dir():
        total = sum(p.stat().st_size for p in objects.glob("*/*") if p.is_file())
        line += f"; {total / mb:.1f} MB in {objects.parent}"
    return line


def print_compare(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    runs = data["runs"]
    ids = [str(r["run_id"]) for r in runs]
    table = Table(
        title="runs side by side",
        caption="* differs between the runs; best: the best value of a metric "
        "(↑ higher, ↓ lower is better)",
    )
    table.add_column("")
    for rid in ids:
        table.add_column(escape(rid))
    table.add_row("pipeline", *[escape(str(r["pipeline"])) for r in runs])
    table.add_row("status", *[_status(r["status"]) for r in runs])
    table.add_row("start (UTC)", *[_time(r["start"]) for r in runs])
    table.add_row("duration", *[_dur(r["duration"]) for r in runs], end_section=True)
    for name, p in data["parameters"].items():
        cells = [escape(_fmt(v)) for v in p["values"]]
        if p["differs"]:  # marked in text too: CI logs have no colour
            cells = [f"[yellow]{c}[/]" for c in cells]
        table.add_row(f"param {escape(name)}" + (" *" if p["differs"] else ""), *cells)
    if data["parameters"]:
        table.rows[-1].end_section = True
    for name, m in data["metrics"].items():
        arrow = "↑" if m["direction"] == "higher" else "↓"
        cells = []
        for rid, v in zip(ids, m["values"], strict=True):
            text = _fmt(v)
            cells.append(f"[bold green]{text} best[/]" if m["best"] == rid else text)
        table.add_row(f"metric {escape(name)} {arrow}", *cells)
    if data["metrics"]:
        table.rows[-1].end_section = True
    for name, s in data["steps"].items():
        cells = [
            f"{_dur(d)} {st or ''}".strip() if st != "cached" else "cached"
            for d, st in zip(s["duration"], s["status"], strict=True)
        ]
        table.add_row(f"step {escape(name)}", *cells)
    Console().print(table)


def print_gc(result: GcResult) -> None:
    verb = "would remove" if result.dry_run else "removed"
    mb = result.bytes / 2**20
    print(
        f"{verb} {len(result.removed)} run(s), {result.artifacts} artifact(s) ({mb:.1f} MiB), "
        f"{result.entries} cache entr{'y' if result.entries == 1 else 'ies'}; "
        f"kept {len(result.kept)} run(s)"
    )
