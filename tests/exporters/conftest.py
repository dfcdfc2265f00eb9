"""Fixtures of the exporter tests: packages converted from the samples, the engines' venvs.

The engines (Airflow, KFP, check-jsonschema) run in their own virtual environments, built
once by ``tests/engines/engine_envs.py`` and cached outside the repository; the
integration tests that use them are marked ``integration`` and grouped per engine
(``xdist_group``) so one pytest-xdist worker builds and uses each.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exporter_helpers import WINE, convert, engine_envs


@pytest.fixture
def packages(tmp_path: Path) -> Iterator[Any]:
    """``packages(notebook, stem)`` -> a freshly converted package folder; the packages
    imported by a test are forgotten after it."""
    made: list[Path] = []

    def make(notebook: Path = WINE, stem: str = "wine") -> Path:
        out = convert(notebook, tmp_path / "pkgs", stem)
        made.append(out)
        return out

    yield make
    for out in made:
        for mod in [m for m in sys.modules if m == out.name or m.startswith(out.name + ".")]:
            del sys.modules[mod]
    for entry in [str(tmp_path / "pkgs")]:
        while entry in sys.path:
            sys.path.remove(entry)


# --- engines ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_env() -> Path:
    return engine_envs.ensure("airflow")


@pytest.fixture(scope="session")
def kfp_env() -> Path:
    return engine_envs.ensure("kfp")


@pytest.fixture(scope="session")
def gha_env() -> Path:
    return engine_envs.ensure("gha")
