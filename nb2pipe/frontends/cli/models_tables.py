"""The rich tables of ``nb2pipe models list|show`` and ``nb2pipe drift`` (the facts come from
:mod:`nb2pipe.mlops.models` and :mod:`nb2pipe.mlops.drift`, which print nothing)."""

from __future__ import annotations

import json
from typing import Any

from nb2pipe.mlops.drift import DriftReport


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)[:70]
    return "" if v is None else str(v)[:70]


def print_list(rows: list[dict[str, Any]], where: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"no models in {escape(where)}")
        return
    table = Table(title=f"models ({escape(where)})")
    for col in ("model", "champion", "versions", "created (UTC)", "run", "metrics"):
        table.add_column(col)
    for r in rows:
        metrics = ", ".join(f"{k}={_fmt(v)}" for k, v in list(r["metrics"].items())[:3])
        table.add_row(
            escape(r["name"]),
            str(r["champion"] or "-"),
            str(r["versions"]),
            str(r["created"] or "")[:19].replace("T", " "),
            escape(str(r["run_id"])),
            escape(metrics),
        )
    console.print(table)


def print_show(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    v = info["version"]
    aliases = f" ({', '.join(v['aliases'])})" if v.get("aliases") else ""
    console.print(f"[bold]{escape(v['name'])}:{v['version']}[/]{escape(aliases)}")
    art = v.get("artifact") or {}
    facts = [
        ("created", str(v.get("created", ""))[:19].replace("T", " ") + " UTC"),
        ("run", v.get("run_id")),
        ("pipeline", v.get("pipeline")),
        ("step / variable", f"{v.get('step')} / {v.get('variable')}"),
        (
            "artifact",
            f"{art.get('hash', '')[:16]}... {art.get('format', '')}, {art.get('size', 0)} bytes",
        ),
        ("code", str((v.get("code") or {}).get("digest", ""))[:16] + "..."),
        ("notebook", str((v.get("code") or {}).get("notebook_sha256") or "")[:16] + "..."),
        ("gates", ", ".join(f"{g} {s}" for g, s in (v.get("gates") or {}).items()) or "none"),
        (
            "reference",
            f"{len(v.get('reference') or [])} features" if v.get("reference") else "none",
        ),
        ("source", v.get("source")),
    ]
    t = Table(show_header=False)
    t.add_column()
    t.add_column()
    for k, val in facts:
        t.add_row(k, escape(_fmt(val)))
    console.print(t)
    for title, mapping in (
        ("parameters", v.get("parameters") or {}),
        ("metrics", v.get("metrics") or {}),
        ("data files", (v.get("data") or {}).get("files") or {}),
        ("training inputs", (v.get("data") or {}).get("inputs") or {}),
    ):
        if not mapping:
            continue
        t = Table(title=title)
        t.add_column("name")
        t.add_column("value")
        if title == "metrics":
            t.add_column("better")
        for k, val in mapping.items():
            row = [
                escape(k),
                escape(
                    _fmt(val)
                    if title != "data files" and title != "training inputs"
                    else str(val)[:16] + "..."
                ),
            ]
            if title == "metrics":
                row.append((v.get("directions") or {}).get(k, ""))
            t.add_row(*row)
        console.print(t)
    if info.get("versions"):
        t = Table(title="versions")
        for col in ("version", "aliases", "created (UTC)", "run", "metrics"):
            t.add_column(col)
        for row in info["versions"]:
            metrics = ", ".join(f"{k}={_fmt(x)}" for k, x in list(row["metrics"].items())[:3])
            t.add_row(
                str(row["version"]),
                ", ".join(row["aliases"]),
                str(row["created"] or "")[:19].replace("T", " "),
                escape(str(row["run_id"])),
                escape(metrics),
            )
        console.print(t)


def print_drift(report: DriftReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"drift of {report.data} against {report.model}:{report.version} "
        f"({report.method.upper()} > {report.threshold:g} is drift)"
    )
    for col in ("feature", "kind", "PSI", "KS", "mean (ref -> new)", "status"):
        table.add_column(col, justify="right" if col in ("PSI", "KS") else "left")
    for f in report.features:
        mean = (
            f"{f.reference_mean:.4g} -> {f.new_mean:.4g}"
            if f.reference_mean is not None and f.new_mean is not None
            else ""
        )
        status = {"drift": "[bold red]drift[/]", "ok": "[green]ok[/]"}.get(f.status, f.status)
        if f.new_categories:
            status += f" (new: {', '.join(f.new_categories[:3])})"
        table.add_row(
            f.feature,
            f.kind,
            "" if f.psi is None else f"{f.psi:.3f}",
            "" if f.ks is None else f"{f.ks:.3f}",
            mean,
            status,
        )
    console = Console()
    console.print(table)
    if report.drifted:
        console.print(
            f"[bold red]{len(report.drifted)} feature(s) drifted:[/] {', '.join(report.drifted)}"
        )
    else:
        console.print("no drift")
