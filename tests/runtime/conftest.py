"""Fixtures of the runtime tests; the package builder is in runtime_helpers.py."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import Pkg, S, diamond_steps


@pytest.fixture
def make_pkg(tmp_path: Path) -> Iterator[Any]:
    made: list[Pkg] = []

    def make(
        steps: Sequence[S],
        params: Sequence[tuple[Any, ...]] = (),
        *,
        derive: str | None = None,
        derived: tuple[str, ...] = (),
        common: str | None = None,
    ) -> Pkg:
        name = f"pkg_{uuid.uuid4().hex[:10]}"
        pkg = Pkg(tmp_path, name, list(steps), list(params), derive, derived, common).write()
        made.append(pkg)
        return pkg

    cwd = os.getcwd()
    yield make
    os.chdir(cwd)
    for pkg in made:
        for mod in [m for m in sys.modules if m == pkg.name or m.startswith(pkg.name + ".")]:
            del sys.modules[mod]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


@pytest.fixture
def diamond(make_pkg: Any) -> Pkg:
    pkg = make_pkg(diamond_steps(), [("k", int, 2)])
    (pkg.workdir / "data.csv").write_text("a\nb\nc\n")
    return pkg
