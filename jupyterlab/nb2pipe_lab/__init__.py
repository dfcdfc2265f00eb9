"""nb2pipe inside JupyterLab: a prebuilt lab extension (step badges, a tagging menu, a pipeline
panel) and a Jupyter server extension exposing nb2pipe's inspect, convert, run, verify and
graph to it under ``<base_url>/nb2pipe/``."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nb2pipe-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nb2pipe_lab"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from nb2pipe_lab.handlers import setup_handlers

    setup_handlers(server_app)
    server_app.log.info("nb2pipe_lab: endpoints registered under %snb2pipe/", server_app.base_url)
