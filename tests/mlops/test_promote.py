"""The champion policy (--promote if-better|always|never), judged on the primary metric
(`# primary` in the metrics cell, else the first metric): what happens to the alias is
said in one line, recorded in run.json and in the version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlops_helpers import TINY, convert, forget, run_cli, run_inline, write_values

from nb2pipe.compiler.mlops_tags import comment_primary
from nb2pipe.mlops.registry import open_registry
from nb2pipe.runtime import UsageError
from nb2pipe.runtime.metrics import declared_direction, is_primary

VALUES = [1, 2, 3, 7, 8, 9]


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    package = convert(tmp_path, TINY)
    write_values(tmp_path, VALUES)
    yield tmp_path, package
    forget(package)


def champion(folder: Path) -> int | None:
    return open_registry("local", runs_dir=folder / "runs").alias_version("threshold")


@pytest.mark.parametrize(
    ("comment", "direction", "primary"),
    [
        ("# higher, primary", "higher", True),
        ("# primary", None, True),
        ("# lower; primary", "lower", True),
        ("# primary, min", "lower", True),
        ("# lower", "lower", False),
        ("# the primary school data", None, True),
    ],
)
def test_primary_mark_beside_a_direction(comment: str, direction: str | None, primary: bool):
    assert declared_direction(comment) == direction
    assert is_primary(comment) is primary


def test_primary_lines_of_a_metrics_cell() -> None:
    assert comment_primary("a  # higher\nb  # primary\nc") == {2}


def test_if_better_keeps_a_worse_model_and_says_so(tiny: tuple[Path, str]) -> None:
    folder, package = tiny
    first = run_cli(folder, package, "--run-id", "a")
    assert first.returncode == 0, first.stderr
    assert (
        "model threshold:1 registered; champion -> threshold:1 (first version; "
        "--promote if-better)" in first.stdout
    )
    worse = run_cli(folder, package, "-p", "shift=2.5", "--run-id", "b")
    assert worse.returncode == 0, worse.stderr
    assert (
        "model threshold:2 registered; champion stays threshold:1 (error 0.166667 > 0, "
        "lower is better; --promote if-better)" in worse.stdout
    )
    assert champion(folder) == 1
    reg = open_registry("local", runs_dir=folder / "runs")
    kept = reg.get("threshold", 2)
    assert kept.promotion["decision"] == "kept" and kept.promotion["champion_before"] == 1
    assert kept.promotion["value"] == pytest.approx(1 / 6) and kept.aliases == []

    # --promote always moves it anyway; a rerun of the first model moves it back, and says so
    forced = run_cli(folder, package, "-p", "shift=2.5", "--promote", "always")
    assert (
        "model threshold:2 unchanged (same artifact); champion threshold:1 -> threshold:2 "
        "(--promote always)" in forced.stdout
    )
    assert champion(folder) == 2
    back = run_cli(folder, package)
    assert back.returncode == 0, back.stderr
    assert (
        "model threshold:1 unchanged (same artifact); champion threshold:2 -> threshold:1 "
        "(error 0 <= 0.166667, lower is better; --promote if-better)" in back.stdout
    )
    again = run_cli(folder, package)
    assert "model threshold:1 unchanged (same artifact); champion stays threshold:1" in again.stdout


def test_never_registers_without_moving_the_alias(tiny: tuple[Path, str]) -> None:
    folder, package = tiny
    assert run_inline(folder, package).ok
    write_values(folder, [*VALUES, 10])
    new = run_inline(folder, package, promote="never")
    assert new.ok and new.models["threshold"]["version"] == 2
    assert new.models["threshold"]["alias"] is None
    assert new.models["threshold"]["promotion"]["reason"] == "--promote never"
    assert champion(folder) == 1
    with pytest.raises(UsageError, match="--promote 'sometimes'"):
        run_inline(folder, package, promote="sometimes")


def test_the_primary_metric_decides(tmp_path: Path) -> None:
    """score is marked primary: a model with a worse error but a better score is promoted."""
    cells = [
        c if c[0] != "metrics" else ("metrics", "error  # lower\nscore  # primary") for c in TINY
    ]
    cells[4] = ("step:train model:threshold", "model = {'cut': 5.0 + shift}")
    cells[5] = ("step:evaluate", "error = shift\nscore = shift")
    package = convert(tmp_path, cells)
    try:
        write_values(tmp_path, VALUES)
        assert 'primary="score"' in (tmp_path / package / "pipeline.py").read_text()
        assert run_inline(tmp_path, package, param_args=["shift=0.1"]).ok
        better = run_inline(tmp_path, package, param_args=["shift=0.2"])
        assert better.models["threshold"]["promotion"]["metric"] == "score"
        assert better.models["threshold"]["promotion"]["decision"] == "promoted"
        assert champion(tmp_path) == 2
        worse = run_inline(tmp_path, package, param_args=["shift=0.05"])
        assert worse.models["threshold"]["promotion"]["decision"] == "kept"
        assert champion(tmp_path) == 2
        reg = open_registry("local", runs_dir=tmp_path / "runs")
        assert reg.get("threshold", 3).primary == "score"
    finally:
        forget(package)
