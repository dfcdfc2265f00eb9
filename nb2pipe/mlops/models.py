"""``nb2pipe models list|show|promote`` and ``nb2pipe.load_model``: the registered models.

The registry is the local one (``--registry DIR``, else ``$NB2PIPE_REGISTRY``, else
``<runs-dir>/registry``) or MLflow (``--tracking mlflow``, ``--tracking-uri`` or
``$MLFLOW_TRACKING_URI``); ``$NB2PIPE_TRACKING`` sets the default backend.
Light at import: rich and the backends are imported when used.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from nb2pipe.errors import Nb2pipeError


class ModelsError(Nb2pipeError):
    """No such model or version, an unreachable registry, bad input (exit 2)."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Registry, drift and usage errors as nb2pipe errors: one line, exit 2."""
    from nb2pipe.mlops.drift import DriftError
    from nb2pipe.mlops.registry import RegistryError
    from nb2pipe.runtime.errors import UsageError

    try:
        yield
    except (RegistryError, DriftError, UsageError) as exc:
        raise ModelsError(" ".join(str(exc).split())) from None


def _open(
    tracking: str | None,
    registry: str | os.PathLike[str] | None,
    runs_dir: str | os.PathLike[str] | None,
    uri: str | None,
) -> Any:
    from nb2pipe.mlops.registry import open_registry

    return open_registry(tracking, registry=registry, runs_dir=runs_dir, uri=uri)


def load_model(
    name: str,
    version: int | str | None = None,
    *,
    registry: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    tracking: str | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """A registered model: ``load_model("wine")`` (the champion), ``load_model("wine", 3)``,
    ``load_model("wine:3")`` or ``load_model("wine", "champion")``."""
    from nb2pipe.mlops.registry import parse_ref

    ref_name, ref_version = parse_ref(name)
    reg = _open(tracking, registry, runs_dir, tracking_uri)
    return reg.load(reg.get(ref_name, version if version is not None else ref_version))


def list_models(reg: Any) -> list[dict[str, Any]]:
    out = []
    for name in reg.models():
        versions = reg.versions(name)
        if not versions:
            continue
        champion = next((v for v in versions if "champion" in v.aliases), None)
        newest = versions[-1]
        shown = champion or newest
        out.append(
            {
                "name": name,
                "versions": len(versions),
                "latest_version": newest.version,
                "champion": champion.version if champion else None,
                "created": shown.created,
                "run_id": shown.run_id,
                "pipeline": shown.pipeline,
                "metrics": shown.metrics,
            }
        )
    return out


def show_model(reg: Any, ref: str) -> dict[str, Any]:
    from nb2pipe.mlops.registry import parse_ref

    name, version = parse_ref(ref)
    mv = reg.get(name, version)
    out: dict[str, Any] = {"version": mv.to_json()}
    if version is None:
        out["versions"] = [
            {
                "version": v.version,
                "created": v.created,
                "run_id": v.run_id,
                "aliases": v.aliases,
                "metrics": v.metrics,
                "artifact": v.artifact.get("hash"),
            }
            for v in reg.versions(name)
        ]
    return out


def promote(reg: Any, ref: str, alias: str = "champion") -> dict[str, Any]:
    from nb2pipe.mlops.registry import RegistryError, parse_ref

    name, version = parse_ref(ref)
    if not isinstance(version, int):
        raise RegistryError(f"give a version number: {name}:N")
    reg.set_alias(name, alias, version)
    return reg.get(name, version).to_json()


# --- printing -----------------------------------------------------------------------------


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
