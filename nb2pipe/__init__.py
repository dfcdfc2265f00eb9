"""nb2pipe: turn a tagged Jupyter notebook into a reproducible pipeline package."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nb2pipe``: register ``%nb2pipe`` (imported only when loaded)."""
    from nb2pipe.magic import load_ipython_extension as load

    load(ipython)
