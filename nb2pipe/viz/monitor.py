"""``nb2pipe monitor --html``: one offline page, time series drawn as inline SVG (no script,
nothing fetched), like ``nb2pipe graph``. Geometry only here; the template
``templates/viz/monitor.html.j2`` writes the markup with autoescape on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

W, H = 680.0, 210.0
LEFT, RIGHT, TOP, BOTTOM = 56.0, 150.0, 14.0, 30.0
COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#116329", "#6e7781")
MAX_SERIES = 6


@dataclass(frozen=True)
class Line:
    label: str
    points: str  # "x,y x,y ..." (gaps split into several lines)
    colour: str
    dashed: bool = False
    dots: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Chart:
    title: str
    lines: tuple[Line, ...]
    yticks: tuple[tuple[float, str], ...]
    xticks: tuple[tuple[float, str], ...]
    width: float = W
    height: float = H


def _scale(values: Sequence[float]) -> float:
    top = max([v for v in values if v is not None] or [1.0])
    return top * 1.1 if top > 0 else 1.0


def chart(
    title: str, n: int, series: dict[str, list[float | None]], dashed: Sequence[str] = ()
) -> Chart:
    """Series of one value per window (None: no value) as polylines over windows 1..n."""
    top = _scale([v for vals in series.values() for v in vals if v is not None])
    inner_w, inner_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return TOP + inner_h * (1 - v / top)

    lines = []
    for k, (label, values) in enumerate(series.items()):
        pts = [(round(x(i), 1), round(y(v), 1)) for i, v in enumerate(values) if v is not None]
        lines.append(
            Line(
                label,
                " ".join(f"{a},{b}" for a, b in pts),
                COLOURS[k % len(COLOURS)],
                label in dashed,
                tuple(pts),
            )  # fmt: skip
        )
    yticks = tuple((round(y(top * j / 4), 1), f"{top * j / 4:.3g}") for j in range(5))
    step = max(1, n // 10)
    xticks = tuple((round(x(i), 1), str(i + 1)) for i in range(0, n, step))
    return Chart(title, tuple(lines), yticks, xticks)


def charts(report: Any) -> list[Chart]:
    ws = report.windows
    n = len(ws)
    psi: dict[str, list[float | None]] = {}
    for w in ws:
        for f in w.features:
            psi.setdefault(f.feature, [None] * n)
    for i, w in enumerate(ws):
        for f in w.features:
            psi[f.feature][i] = f.psi
    top = sorted(psi, key=lambda k: -max([v for v in psi[k] if v is not None] or [0]))[:MAX_SERIES]
    limit = report.thresholds["psi"]
    out = [
        chart("input drift: PSI per feature (the highest)",
              n, {**{k: psi[k] for k in top}, f"threshold {limit:g}": [limit] * n},
              dashed=[f"threshold {limit:g}"]),
        chart("prediction drift: PSI of the predictions",
              n, {"predictions": [w.prediction.psi if w.prediction else None for w in ws],
                  f"threshold {limit:g}": [limit] * n}, dashed=[f"threshold {limit:g}"]),
    ]  # fmt: skip
    metric = next((w.metric for w in ws if w.metric), "metric")
    out.append(
        chart(
            f"live {metric} (labelled predictions) and the registered value",
            n,
            {"live": [w.live for w in ws], "registered": [w.registered for w in ws]},
            dashed=["registered"],
        )  # fmt: skip
    )
    out.append(
        chart(
            "predictions and labels per window",
            n,
            {
                "predictions": [float(w.count) for w in ws],
                "labelled": [float(w.labelled) for w in ws],
            },
        )  # fmt: skip
    )
    return out


def write_page(report: Any, path: Path) -> None:
    from nb2pipe.runtime.fsutil import atomic_write_bytes
    from nb2pipe.viz.pages import render

    def when(ts: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))

    html = render(
        "monitor.html.j2",
        report=report,
        charts=charts(report),
        when=when,
        latest=report.windows[-1] if report.windows else None,
    )
    atomic_write_bytes(Path(path), html.encode("utf-8"))
