"""Figures as Jupyter's inline backend treats them: shown and closed at the end of every
cell and on ``plt.show()``; each one shown is saved for the run's ``figures/`` folder.

While a step runs, matplotlib uses the backend ``nb2pipe.runtime.mpl_backend`` (Agg,
whose ``show()`` calls :func:`flush`). Generated steps that plot call ``plt.show()``
where a notebook cell ends, so a plot in the next cell starts on a new figure, as in the
notebook. :func:`finish` flushes what the step left open and puts the previous backend
back. Nothing here imports matplotlib unless the step already did.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

BACKEND = "module://nb2pipe.runtime.mpl_backend"


class _Target:
    folder: Path | None = None
    step = ""
    saved: list[str] = []
    env: str | None = None  # MPLBACKEND before the step
    previous: str | None = None  # pyplot's backend before the step, if we switched it


def begin(run_dir: str, step: str) -> None:
    """Before the step's module is imported: figures go to ``run_dir/figures``."""
    _Target.folder, _Target.step, _Target.saved = Path(run_dir) / "figures", step, []
    _Target.env, _Target.previous = os.environ.get("MPLBACKEND"), None
    os.environ["MPLBACKEND"] = BACKEND  # matplotlib imported during the step reads it
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        current = plt.get_backend()
        if current != BACKEND:
            _Target.previous = current
            plt.switch_backend(BACKEND)
    elif "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use(BACKEND)


def flush() -> None:
    """Save every open figure (in number order) and close them all: the end of a cell."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        if _Target.folder is not None:
            for num in plt.get_fignums():
                _save(plt.figure(num))
    finally:
        plt.close("all")


def _save(fig: Any) -> None:
    folder = _Target.folder
    assert folder is not None
    name = f"{_Target.step}-{len(_Target.saved) + 1}.png"
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # as the notebook showed it: the figure's own size and dpi, nothing clipped
        fig.savefig(tmp, format="png", dpi=fig.dpi, bbox_inches="tight")
        os.replace(tmp, folder / name)
    except Exception as exc:  # noqa: BLE001 - the notebook shows a traceback and goes on
        print(
            f"[nb2pipe] a figure could not be saved: {type(exc).__name__}: {exc}", file=sys.stderr
        )
        tmp.unlink(missing_ok=True)
        return
    _Target.saved.append(f"figures/{name}")


def finish() -> list[str]:
    """After the step: flush what it left open, restore the backend, return the files."""
    try:
        flush()
    finally:
        if _Target.env is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = _Target.env
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None and _Target.previous is not None:
            plt.switch_backend(_Target.previous)
        saved, _Target.folder, _Target.saved = _Target.saved, None, []
    return saved
