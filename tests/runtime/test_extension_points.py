"""Every extension point is an entry-point group (runtime/entrypoints.py): a third-party
distribution (a real .dist-info folder on sys.path, as pip would install it) adds an
executor, a run hook, a store and a registry backend, and the runner, open_store and
open_registry use them without a line of nb2pipe changing."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib

from nb2pipe.runtime import entrypoints
from nb2pipe.runtime.errors import UsageError

REPO = Path(__file__).resolve().parents[2]

TOYEXT = '''
import os

from nb2pipe.mlops.registry.local import LocalRegistry
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.executors import ProcessExecutor
from nb2pipe.runtime.store import LocalStore

SUBMITTED = []


class ToyExecutor(ProcessExecutor):
    """Worker processes, counting what it is given (as a Dask or Ray executor would)."""

    def submit(self, task, handoff=None):
        assert handoff is None  # not in_process: workers load their inputs from the store
        SUBMITTED.append(task.step.name)
        return super().submit(task, handoff)


class ToyHook:
    order = 10

    def before_run(self, plan):
        if plan.values.get("k") == 13:
            raise UsageError("toy hook: k=13 is unlucky")

    def after_run(self, run):
        run.data["toy"] = {"states": dict(sorted(run.states.items())), "pid": os.getpid()}
        if run.plan.values.get("k") == 7:
            run.fail("toy hook: k=7 fails the run")


class ToyStore(LocalStore):
    def __init__(self, location):
        super().__init__(location.split("://", 1)[1])


class ToyRegistry(LocalRegistry):
    kind = "toy"

    @classmethod
    def open(cls, *, registry, runs_dir, uri):
        return cls(uri.split("://", 1)[1])
'''

ENTRY_POINTS = """
[nb2pipe.executors]
toy = toyext:ToyExecutor

[nb2pipe.run_hooks]
toy = toyext:ToyHook

[nb2pipe.stores]
toy = toyext:ToyStore

[nb2pipe.registries]
toy = toyext:ToyRegistry
"""


@pytest.fixture
def toyext(tmp_path: Path) -> Iterator[Any]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "toyext.py").write_text(textwrap.dedent(TOYEXT))
    info = site / "toyext-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyext\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(site))
    saved = os.environ.get("PYTHONPATH")
    # spawned workers import toyext's module too
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), saved]))
    entrypoints.reset()
    import toyext

    yield toyext
    sys.path.remove(str(site))
    sys.modules.pop("toyext", None)
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved
    entrypoints.reset()


def test_a_plugin_executor_runs_the_steps(toyext: Any, diamond: Any) -> None:
    result = diamond.run(executor="toy", jobs=2)
    assert result.ok, result.error
    assert sorted(toyext.SUBMITTED) == ["join", "left", "load", "right"]
    pids = {s["pid"] for s in result.steps.values()}
    assert os.getpid() not in pids  # in worker processes, not inline
    assert result.load("join", "total") == diamond.run(executor="inline").load("join", "total")


def test_an_unknown_executor_is_a_usage_error_naming_the_installed_ones(diamond: Any) -> None:
    with pytest.raises(
        UsageError,
        match=r"unknown executor 'nope' \(--executor: dask, fork, inline, process, ray",
    ):
        diamond.run(executor="nope")
    assert not diamond.runs.exists()  # refused before anything is written


def test_installed_run_hooks_run_in_order_and_may_refuse_or_fail_a_run(
    toyext: Any, diamond: Any
) -> None:
    ok = diamond.run()
    assert ok.ok
    import json

    record = json.loads((ok.run_dir / "run.json").read_text())
    assert record["toy"]["states"] == {"join": "ok", "left": "ok", "load": "ok", "right": "ok"}
    assert "models" in record  # the publish hook (nb2pipe.mlops) ran too
    with pytest.raises(UsageError, match="k=13 is unlucky"):
        diamond.run(params={"k": 13}, run_id="refused")
    assert not (diamond.runs / "refused").exists()
    failed = diamond.run(params={"k": 7})
    assert (failed.status, failed.exit_code, failed.error) == (
        "failed",
        1,
        "toy hook: k=7 fails the run",
    )
    metrics = json.loads((failed.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed"


def test_hooks_given_to_the_run_replace_the_installed_ones(toyext: Any, diamond: Any) -> None:
    import json

    result = diamond.run(hooks=())
    record = json.loads((result.run_dir / "run.json").read_text())
    assert result.ok and "toy" not in record and "models" not in record


def test_a_url_scheme_opens_its_plugin_store(toyext: Any, tmp_path: Path) -> None:
    from nb2pipe.runtime.fsstore import FsspecStore
    from nb2pipe.runtime.store import open_store

    store = open_store(f"toy://{tmp_path / 'toystore'}")
    assert type(store).__name__ == "ToyStore" and store.root == tmp_path / "toystore"
    ref = store.save({"a": 1})
    assert store.load(ref) == {"a": 1}
    assert isinstance(open_store("memory://x/y"), FsspecStore)  # any other scheme


def test_a_registry_backend_is_opened_by_name(toyext: Any, tmp_path: Path) -> None:
    from nb2pipe.mlops.registry import backends, open_registry

    assert backends() == ["local", "mlflow", "toy"]
    reg = open_registry("toy", uri=f"toy://{tmp_path / 'reg'}")
    assert reg.kind == "toy" and reg.models() == []
    with pytest.raises(UsageError, match="unknown tracking backend 'nope'"):
        open_registry("nope")


def test_every_extension_point_is_declared_once_in_the_pyprojects() -> None:
    """No hard-coded copy in the code: each group's names come from entry points only."""
    main = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    runtime = tomllib.loads((REPO / "nb2pipe" / "runtime" / "pyproject.toml").read_text())
    declared = {**main, **runtime["project"]["entry-points"]}
    assert set(main) & set(runtime["project"]["entry-points"]) == set()
    for group in (
        "nb2pipe.exporters", "nb2pipe.run_hooks", "nb2pipe.registries", "nb2pipe.executors",
        "nb2pipe.stores", "nbconvert.exporters",
    ):  # fmt: skip
        assert declared[group], group
        for name, target in declared[group].items():
            module, _, attr = target.partition(":")
            source = (REPO / (module.replace(".", "/") + ".py")).read_text()
            assert f"class {attr}" in source, (group, name)
            assert entrypoints.declared(group).get(name) == target  # installed as declared
