"""Cache hits and misses: code, parameters, data files, upstream results, versions."""

from __future__ import annotations

from typing import Any

import pytest
from runtime_helpers import S, diamond_steps, statuses

from nb2pipe.runtime import cache as cache_mod


def test_second_run_is_fully_cached(diamond: Any) -> None:
    first = diamond.run()
    assert first.ok and set(statuses(first).values()) == {"ok"}
    assert first.metrics == {"total": 7} and first.load("join", "total") == 7
    second = diamond.run()
    assert set(statuses(second).values()) == {"cached"}
    assert second.metrics == {"total": 7}
    assert second.outputs == first.outputs
    assert second.steps["join"]["cached_from"] == first.run_id


def test_parameter_change_reruns_only_its_readers(diamond: Any) -> None:
    diamond.run()
    r = diamond.run(params={"k": 3})
    assert statuses(r) == {"load": "cached", "left": "ok", "right": "cached", "join": "ok"}
    assert r.steps["left"]["reason"] == "parameter k changed"
    assert r.load("left", "left_out") == ["aaa", "bbb", "ccc"]
    back = diamond.run(params={"k": 2})  # the earlier result is still in the store
    assert set(statuses(back).values()) == {"cached"}


def test_code_change(diamond: Any) -> None:
    diamond.run()
    steps = diamond_steps()
    # a comment and moved cell markers do not count ...
    diamond.write_step(S(**{**steps[2].__dict__, "body": "# cell 9\n\n# note\nright_out = n + 1"}))
    assert set(statuses(diamond.run()).values()) == {"cached"}
    # ... a change of code does, and reaches the steps downstream whose inputs change
    diamond.write_step(S(**{**steps[2].__dict__, "body": "right_out = n + 2"}))
    r = diamond.run()
    assert statuses(r) == {"load": "cached", "left": "cached", "right": "ok", "join": "ok"}
    assert r.steps["right"]["reason"] == "code changed"
    assert r.load("join", "total") == 8


def test_unchanged_output_stops_the_rerun(diamond: Any) -> None:
    diamond.run()
    steps = diamond_steps()
    diamond.write_step(S(**{**steps[2].__dict__, "body": "right_out = 1 + n"}))
    r = diamond.run()
    assert statuses(r) == {"load": "cached", "left": "cached", "right": "ok", "join": "cached"}


def test_data_file_change_reruns_what_it_reaches(diamond: Any) -> None:
    diamond.run()
    (diamond.workdir / "data.csv").write_text("a\nb\nc\nd\n")
    r = diamond.run()
    assert set(statuses(r).values()) == {"ok"}
    assert r.steps["load"]["reason"] == "file data.csv changed"
    assert r.load("join", "total") == 9
    (diamond.workdir / "data.csv").write_text("a b c d\n")  # same rows, different bytes
    r = diamond.run()
    assert statuses(r) == {"load": "ok", "left": "cached", "right": "cached", "join": "cached"}


def test_file_named_by_a_parameter(make_pkg: Any) -> None:
    pkg = make_pkg(
        [S("read", "text = open(path).read()", outputs=("text",), params=("path",))],
        [("path", str, "in.txt")],
    )
    (pkg.workdir / "in.txt").write_text("one")
    assert pkg.run().load("read", "text") == "one"
    (pkg.workdir / "in.txt").write_text("two")
    r = pkg.run()
    assert statuses(r) == {"read": "ok"} and r.load("read", "text") == "two"
    assert "in.txt (parameter path)" in r.steps["read"]["reason"]


def test_common_code_change(make_pkg: Any) -> None:
    common = "def double(x):\n    return 2 * x\n\n\ndef other():\n    return 0\n"
    pkg = make_pkg(
        [
            S("a", "y = double(3)", outputs=("y",), common=("double",)),
            S("b", "z = other()", outputs=("z",), common=("other",)),
        ],
        common=common,
    )
    assert pkg.run().load("a", "y") == 6
    (pkg.dir / "common.py").write_text(common.replace("2 * x", "3 * x"))
    r = pkg.run()
    assert statuses(r) == {"a": "ok", "b": "cached"}
    assert r.steps["a"]["reason"] == "shared code double changed"
    assert r.load("a", "y") == 9  # the new code ran, not the module imported before


def test_distribution_version_change(diamond: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = diamond_steps()
    diamond.steps[0] = S(**{**steps[0].__dict__, "distributions": ("pyyaml",)})
    diamond.write_pipeline()
    diamond.run()
    real = cache_mod.KeyContext.version
    monkeypatch.setattr(
        cache_mod.KeyContext,
        "version",
        lambda self, d: "99.0" if d == "pyyaml" else real(self, d),
    )
    r = diamond.run()
    assert r.steps["load"]["status"] == "ok"
    assert r.steps["load"]["reason"] == "version of pyyaml changed"


def test_force_and_missing_artifact(diamond: Any) -> None:
    first = diamond.run()
    assert set(statuses(diamond.run(force=True)).values()) == {"ok"}
    ref = first.outputs["right"]["right_out"]
    diamond.run().store_dir.joinpath("objects", ref.hash[:2], f"{ref.hash}.{ref.format}").unlink()
    r = diamond.run()  # right's entry points to a missing artifact: recomputed
    assert statuses(r) == {"load": "cached", "left": "cached", "right": "ok", "join": "cached"}


def test_fully_cached_run_loads_no_artifact(diamond: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    diamond.run()
    from nb2pipe.runtime.store import LocalStore

    def boom(*a: Any) -> Any:
        raise AssertionError("loaded an artifact")

    monkeypatch.setattr(LocalStore, "load", boom)
    monkeypatch.setattr(LocalStore, "read_bytes", boom)
    assert diamond.run().ok


def test_folder_listed_in_files(make_pkg: Any) -> None:
    body = (
        "names = sorted(os.listdir('data'))\nsizes = [len(open(f'data/{n}').read()) for n in names]"
    )
    pkg = make_pkg([S("scan", body, outputs=("sizes",), files=("data",), imports="import os")])
    (pkg.workdir / "data").mkdir()
    (pkg.workdir / "data" / "a.csv").write_text("1")
    assert pkg.run().load("scan", "sizes") == [1]
    assert statuses(pkg.run()) == {"scan": "cached"}
    (pkg.workdir / "data" / "b.csv").write_text("22")
    r = pkg.run()
    assert statuses(r) == {"scan": "ok"} and r.load("scan", "sizes") == [1, 2]
    (pkg.workdir / "data" / "a.csv").write_text("333")
    assert pkg.run().load("scan", "sizes") == [3, 2]
