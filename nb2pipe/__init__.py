"""nb2pipe: turn a tagged Jupyter notebook into a reproducible pipeline package."""

__version__ = "0.1.0"

__all__ = ["__version__"]
