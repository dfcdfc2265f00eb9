"""nb2pipe: turn a tagged Jupyter notebook into a reproducible pipeline package."""

from typing import Any

from nb2pipe.runtime import __version__

__all__ = ["__version__", "load_ipython_extension", "load_model"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nb2pipe``: register ``%nb2pipe`` (imported only when loaded)."""
    from nb2pipe.frontends.ipython import load_ipython_extension as load

    load(ipython)


def load_model(name: str, version: int | str | None = None, **where: Any) -> Any:
    """A registered model: ``nb2pipe.load_model("wine")`` (its champion), ``("wine", 3)``
    or ``("wine:3")``; ``registry=``, ``runs_dir=``, ``tracking="mlflow"``,
    ``tracking_uri=`` say where to look (see ``nb2pipe.mlops.models.load_model``)."""
    from nb2pipe.mlops.models import load_model as load

    return load(name, version, **where)
