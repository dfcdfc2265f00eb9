"""Figures compared by what they show: per axes its titles, labels, limits, the data of
its lines, the geometry of its patches (bars, wedges), the offsets and values of its
collections (scatter points, filled areas), its images and texts. Never matplotlib's
internals (callbacks, canvases, transforms caches), which differ between any two runs,
nor tick positions, which depend on the figure's size in pixels."""

from __future__ import annotations

import sys
from typing import Any

MAX_PATHS = 200  # paths of one collection compared (a hexbin may have thousands)


def is_artist(value: Any) -> bool:
    if "matplotlib" not in sys.modules:
        return False
    from matplotlib.artist import Artist

    return isinstance(value, Artist)


def shown(value: Any) -> dict[str, Any]:
    """What a figure, axes or other artist shows, as plain values and arrays."""
    from matplotlib.axes import Axes
    from matplotlib.figure import FigureBase

    if isinstance(value, FigureBase):
        return {
            "suptitle": _text(getattr(value, "_suptitle", None)),
            "texts": [_text(t) for t in value.texts],
            "axes": [_axes(ax) for ax in value.axes],
        }
    if isinstance(value, Axes):
        return _axes(value)
    return _artist(value)


def _axes(ax: Any) -> dict[str, Any]:
    legend = ax.get_legend()
    return {
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "lines": [_artist(a) for a in ax.lines],
        "patches": [_artist(a) for a in ax.patches],
        "collections": [_artist(a) for a in ax.collections],
        "images": [_artist(a) for a in ax.images],
        "texts": [_text(t) for t in ax.texts],
        "legend": [_text(t) for t in legend.get_texts()] if legend is not None else None,
        "xlim": [float(v) for v in ax.get_xlim()],  # after the data: a difference there
        "ylim": [float(v) for v in ax.get_ylim()],  # is the more telling one
    }


def _artist(a: Any) -> dict[str, Any]:
    import numpy as np
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.text import Text

    if isinstance(a, Line2D):
        return {"line": np.asarray(a.get_xydata(), dtype=float)}
    if isinstance(a, Patch):
        vertices = a.get_patch_transform().transform(a.get_path().vertices)
        return {"patch": type(a).__name__, "vertices": np.asarray(vertices, dtype=float)}
    if isinstance(a, Collection):
        values = a.get_array()
        return {
            "collection": type(a).__name__,
            "offsets": np.asarray(a.get_offsets(), dtype=float),
            "values": None if values is None else np.asarray(np.ma.getdata(values), dtype=float),
            "paths": [np.asarray(p.vertices, dtype=float) for p in a.get_paths()[:MAX_PATHS]],
        }
    if isinstance(a, AxesImage):
        return {"image": np.asarray(np.ma.getdata(a.get_array()))}
    if isinstance(a, Text):
        return _text(a)
    return {"artist": type(a).__name__}


def _text(t: Any) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"text": t.get_text(), "position": [float(v) for v in t.get_position()]}
