"""The server extension's endpoints in an in-process Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import SMALL, make_notebook

# Loaded here only: run these tests in their own pytest process (make lab-test-py), so the
# plugin's autouse fixtures (an event loop and a ServerApp cleanup per test) stay out of the
# main suite.
pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nb2pipe_lab": True}}}


@pytest.fixture
def small(jp_root_dir: Path) -> Path:
    return make_notebook(jp_root_dir / "work" / "small.ipynb", SMALL)


@pytest.fixture
def call(jp_fetch: Callable[..., Any]) -> Callable[..., Any]:
    """POST (with a body) or GET (with params) an nb2pipe endpoint; (status, JSON)."""

    async def fetch(endpoint: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        kwargs: dict[str, Any] = {"raise_error": False}
        if body is not None:
            kwargs.update(method="POST", body=json.dumps(body))
        else:
            kwargs.update(method="GET", params=params)
        response = await jp_fetch("nb2pipe", endpoint, **kwargs)
        text = response.body.decode()
        return response.code, (
            json.loads(text) if "json" in response.headers.get("Content-Type", "") else text
        )

    return fetch
