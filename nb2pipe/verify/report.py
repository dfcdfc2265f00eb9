"""Print a verify result: a table of step x variable x verdict, then the differences."""

from __future__ import annotations

import json
from typing import Any

from nb2pipe.verify.result import VerifyResult

_STYLE = {"ok": "green", "mismatch": "bold red", "missing": "red", "failed": "red",
          "skipped": "dim", "nondeterministic": "yellow"}  # fmt: skip


def _timing(result: VerifyResult) -> str:
    s = result.seconds
    keys = ("convert", "pipeline", "notebook", "compare", "notebook again")
    parts = [f"{k} {s[k]:.1f}s" for k in keys if k in s]
    return ", ".join(parts) + (f"; total {s['total']:.1f}s" if "total" in s else "")


def print_result(result: VerifyResult, *, quiet: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not quiet:
        table = Table(title=f"verify {result.notebook}", title_justify="left")
        for col in ("step", "variable", "verdict", "compared as", "detail"):
            table.add_column(col, overflow="fold")
        for r in result.rows:
            style = _STYLE.get(r.verdict, "yellow")
            table.add_row(
                r.step, r.variable or "-", f"[{style}]{r.verdict}[/]", r.how, _escape(r.detail)
            )
        out.print(table)
        for note in result.notes:
            out.print(f"note: {_escape(note)}", soft_wrap=True)
        if result.parameters:
            shown = ", ".join(f"{k}={v!r}" for k, v in result.parameters.items())
            out.print(f"parameters: {_escape(shown)}")
        if result.kept:
            out.print(f"scratch folder kept: {result.kept}")
    values = sum(1 for r in result.rows if r.variable and r.verdict == "ok")
    if result.ok:
        steps = len({r.step for r in result.rows if r.verdict == "ok"})
        aside = [
            f"{n} {label}"
            for verdict, label in (
                ("nondeterministic", "not comparable: the notebook differs from itself"),
                ("skipped", "skipped"),
            )
            if (n := sum(1 for r in result.rows if r.verdict == verdict))
        ]
        out.print(
            f"[green]verified[/]: {values} value(s) of {steps} step(s) match the notebook"
            + (f"; {', '.join(aside)}" if aside else "")
            + f" ({_timing(result)})",
            soft_wrap=True,
        )
        return
    err.print(
        f"[bold red]verify failed[/]: {len(result.problems)} of {len(result.rows)} row(s) "
        f"not verified ({_timing(result)}); differences read notebook != pipeline"
    )
    for line in result.summary().splitlines():
        err.print(f"  {_escape(line)}")


def as_json(result: VerifyResult) -> str:
    data: dict[str, Any] = {
        "notebook": result.notebook,
        "pipeline": result.pipeline_dir,
        "ok": result.ok,
        "parameters": {k: _plain(v) for k, v in result.parameters.items()},
        "notebook_error": result.notebook_error,
        "pipeline_error": result.pipeline_error,
        "rows": [
            {
                "step": r.step,
                "variable": r.variable,
                "verdict": r.verdict,
                "how": r.how,
                "detail": r.detail,
            }
            for r in result.rows
        ],  # fmt: skip
        "notes": result.notes,
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
    }
    return json.dumps(data, indent=2)


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
