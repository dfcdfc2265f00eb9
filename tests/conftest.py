"""Fixtures shared by every test folder. Keep this small: folder-specific helpers live in
that folder's conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _ci_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI=true turns a stale-package warning into an error; the tests of that behaviour set
    it themselves, so the suite gives the same result in CI as on a laptop."""
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (pyproject.toml, nb2pipe/, sample_notebooks/)."""
    return REPO


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """sample_notebooks/: the realistic notebooks the end-to-end tests convert and run."""
    return REPO / "sample_notebooks"
