"""The matplotlib backend of pipeline steps (``MPLBACKEND=module://nb2pipe.runtime.mpl_backend``):
Agg, whose ``show()`` saves and closes every open figure, as Jupyter's inline backend
displays and closes them (see nb2pipe.runtime.figures)."""

from __future__ import annotations

from typing import Any

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from nb2pipe.runtime import figures

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def show(*args: Any, **kwargs: Any) -> None:
    figures.flush()
