"""Format plugins (issue 19.4): a library's own save format through the entry-point group
``nb2pipe.formats``. The plugin here is a real installed distribution (a .dist-info folder
on sys.path), as xgboost's or torch's would be; its type cannot be pickled, like
xgboost's DMatrix."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import S

from nb2pipe.runtime import plugins
from nb2pipe.runtime.store import LocalStore

TOY = '''
import json


class Toy:
    """Holds a pointer-like handle: pickle refuses it, as it does xgboost's DMatrix."""

    def __init__(self, values):
        self.values = list(values)

    def __reduce__(self):
        raise TypeError("ctypes objects containing pointers cannot be pickled")

    def __eq__(self, other):
        return type(other) is Toy and other.values == self.values


class ToyFormat:
    types = ("toyfmt.Toy",)

    @staticmethod
    def write(value, path):
        with open(path, "w") as f:
            json.dump({"toy": value.values}, f)

    @staticmethod
    def read(path):
        with open(path) as f:
            return Toy(json.load(f)["toy"])
'''


def install(site: Path, entry_points: str) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / "toyfmt.py").write_text(textwrap.dedent(TOY))
    info = site / "toyfmt-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyfmt\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "site"
    sys.path.insert(0, str(folder))
    plugins.reset()
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("toyfmt", None)
    plugins.reset()


def test_a_plugin_stores_what_pickle_cannot(site: Path, tmp_path: Path) -> None:
    install(site, "[nb2pipe.formats]\ntoy = toyfmt:ToyFormat\n")
    from toyfmt import Toy

    store = LocalStore(tmp_path / "store")
    ref = store.save(Toy([1, 2, 3]))
    assert ref.format == "toy" and store.path(ref).suffix == ".toy"
    assert store.load(ref) == Toy([1, 2, 3])
    assert store.save(Toy([1, 2, 3])) == ref  # content-addressed like any artifact
    assert store.save([1, 2]).format == "json"  # built-in formats come first


STEPS = [
    S("make", "from toyfmt import Toy\nt = Toy([1, 2, 3])", outputs=("t",)),
    S("use", "total = sum(t.values)", inputs={"t": "make"}, outputs=("total",)),
]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_pipeline_passes_a_plugin_value_between_steps(
    site: Path, make_pkg: Any, jobs: int
) -> None:
    install(site, "[nb2pipe.formats]\ntoy = toyfmt:ToyFormat\n")
    r = make_pkg(STEPS).run(jobs=jobs)
    assert r.ok, r.error
    assert r.outputs["make"]["t"].format == "toy" and r.load("use", "total") == 6
    (note,) = r.steps["use"]["notes"]  # the guard cannot fingerprint it: said, not a crash
    assert note.startswith("input 't': not compared: toyfmt.Toy: ctypes objects")


def test_without_the_plugin_the_output_is_refused_in_one_line(site: Path, make_pkg: Any) -> None:
    site.mkdir()
    (site / "toyfmt.py").write_text(textwrap.dedent(TOY))
    r = make_pkg(STEPS).run()
    message = r.steps["make"]["error"]["message"]
    assert message.startswith("step 'make': output 't' cannot be stored: TypeError: ")
    assert "\n" not in message


def test_a_broken_or_misnamed_plugin_is_reported_and_ignored(site: Path, tmp_path: Path) -> None:
    install(site, "[nb2pipe.formats]\nmissing = no_such_module:Format\njson = toyfmt:ToyFormat\n")
    store = LocalStore(tmp_path / "store")
    assert store.save({"a": 1}).format == "json"
    assert plugins.get("missing") is None and plugins.get("json") is None
    assert any("'missing'" in e and "cannot be loaded" in e for e in plugins.errors)
    assert any("'json'" in e and "reserved" in e for e in plugins.errors)
