"""The cluster executors' pure parts: the environment comparison and the data files
(staging into a store, materialising in a scratch folder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nb2pipe.runtime.cluster import datafiles, envcheck
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.spec import Step
from nb2pipe.runtime.store import open_store

HERE = {"python": "3.11", "nb2pipe": "0.1.0", "distributions": {"numpy": "2.0", "gone": None}}


def test_problems_name_python_runtime_missing_and_other_versions() -> None:
    same = {"python": "3.11", "nb2pipe": "0.1.0", "distributions": {"numpy": "2.0"}}
    assert envcheck.problems(HERE, same) == []  # a distribution absent here is not asked
    other = {"python": "3.12", "nb2pipe": "0.2.0", "distributions": {"numpy": "1.26"}}
    assert envcheck.problems(HERE, other) == [
        "Python 3.12 (here 3.11)",
        "nb2pipe-runtime 0.2.0 (here 0.1.0)",
        "numpy 1.26 (here 2.0)",
    ]
    missing = {**same, "distributions": {"numpy": None}}
    assert envcheck.problems(HERE, missing) == ["numpy is not installed (here 2.0)"]


def test_check_raises_one_line_naming_the_first_bad_worker() -> None:
    good = {"python": "3.11", "nb2pipe": "0.1.0", "distributions": {"numpy": "2.0"}}
    bad = {**good, "distributions": {}}
    envcheck.check("dask", HERE, {"tcp://a:1": good})
    with pytest.raises(UsageError) as info:
        envcheck.check("dask", HERE, {"tcp://a:1": good, "tcp://b:2": bad})
    assert str(info.value) == (
        "dask worker tcp://b:2 differs from this environment: numpy is not installed "
        "(here 2.0); install the same versions on the workers"
    )
    with pytest.raises(UsageError, match="has no worker"):
        envcheck.check("ray", HERE, {})
    with pytest.raises(UsageError, match="ray worker n1: cannot check its environment: OSError"):
        envcheck.check("ray", HERE, {"n1": OSError("gone")})


def test_environment_reports_this_process() -> None:
    env = envcheck.environment(["numpy", "no-such-distribution-nb2pipe"])
    assert env["distributions"]["no-such-distribution-nb2pipe"] is None
    assert env["distributions"]["numpy"] == __import__("numpy").__version__


@dataclass(frozen=True)
class Task:
    workdir: str
    run_dir: str
    step: Step
    kwargs: dict[str, Any] = field(default_factory=dict)


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_data_files_staged_once_by_content_and_materialised(tmp_path: Path, scheme: str) -> None:
    """The same through a local store and an fsspec one (``file://``: the code path of an
    s3:// or gs:// store every worker reaches)."""
    project = tmp_path / "project" / "nb"
    (project / "data" / "sub").mkdir(parents=True)
    (project / "data" / "sub" / "a.csv").write_text("a\n1\n")
    (project / "data" / "b.csv").write_text("a\n1\n")  # the same content
    (project / "data" / ".hidden").write_text("x")
    (tmp_path / "project" / "shared.txt").write_text("up\n")
    step = Step("load", files=("data", "../shared.txt", "missing.csv"))
    task = Task(str(project), str(tmp_path / "runs" / "r1"), step, {"path": "data/b.csv", "n": 3})
    assert datafiles.paths_of(task) == ["../shared.txt", "data/b.csv", "data/sub/a.csv"]
    folder = tmp_path / "store"
    store = open_store(f"{scheme}{folder}")
    staged = datafiles.Uploader(store).stage(task)
    assert [rel for rel, _ in staged] == ["../shared.txt", "data/b.csv", "data/sub/a.csv"]
    assert len(list((folder / "datafiles").glob("??/*"))) == 2  # a.csv and b.csv share one
    cwd = Path(datafiles.materialise(staged, store, task))
    assert cwd.name == "nb" and cwd.is_relative_to(datafiles.scratch_root(task.run_dir))
    assert (cwd / "data" / "sub" / "a.csv").read_text() == "a\n1\n"
    assert (cwd / ".." / "shared.txt").resolve().read_text() == "up\n"
    assert not (cwd / "data" / ".hidden").exists()
    # a corrupt copy in the store is refused, not materialised
    rel, digest = staged[1]
    (folder / "datafiles" / digest[:2] / digest).write_text("tampered")
    (cwd / rel).unlink()
    with pytest.raises(OSError, match="corrupt"):
        datafiles.materialise(staged, store, task)
