"""Metric directions (declared and by name), the compiler's declarations (comments in the
metrics cell, model:NAME), and the baseline gate's arithmetic."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from mlops_helpers import TINY, build_notebook

from nb2pipe.compiler.mlops_tags import comment_directions, model_variable
from nb2pipe.errors import AnalysisError
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.metrics import (
    Limit,
    declared_direction,
    default_direction,
    metrics_document,
    parse_limits,
    regressions,
)


@pytest.mark.parametrize(
    "name, direction",
    [
        ("accuracy", "higher"),
        ("best_accuracy", "higher"),
        ("f1_macro", "higher"),
        ("r2", "higher"),
        ("auc", "higher"),
        ("loss", "lower"),
        ("val_loss", "lower"),
        ("rmse", "lower"),
        ("test_mae", "lower"),
        ("mean_squared_error", "lower"),
        ("logLoss", "lower"),
        ("trainingTime", "lower"),
        ("errorless_rate", "higher"),  # a word, not a substring
    ],
)
def test_default_direction_by_name(name: str, direction: str) -> None:
    assert default_direction(name) == direction


@pytest.mark.parametrize(
    "comment, direction",
    [
        ("# higher", "higher"),
        ("#lower", "lower"),
        ("# Lower is better", "lower"),
        ("# higher is better.", "higher"),
        ("# min", "lower"),
        ("# maximise", "higher"),
        ("# the test accuracy", None),
        ("# lower than before", None),
    ],
)
def test_declared_direction(comment: str, direction: str | None) -> None:
    assert declared_direction(comment) == direction


def test_comment_directions_by_line() -> None:
    src = "accuracy  # higher\nloss\nprint(r2)  # lower is better\n# lower\nx = '# higher'"
    assert comment_directions(src) == {1: "higher", 3: "lower", 4: "lower"}


@pytest.mark.parametrize(
    "source, var",
    [
        ("forest = RF()\nforest.fit(X, y)", "forest"),
        ("clf = LR()\nclf.fit(X, y)\nscore = 1", "score"),
        ("wine = make()\nother = 2", "wine"),
        ("a, b = f()", "b"),
        ("m: Model = build()", "m"),
        ("model.fit(X, y)", "model"),
        ("print('hi')", None),
    ],
)
def test_model_variable(source: str, var: str | None) -> None:
    name = "wine"
    assert model_variable(name, ast.parse(source))[0] == var


def _load(tmp_path: Path, cells: list[tuple[str, str]]):
    import nbformat

    from nb2pipe import api

    path = tmp_path / "nb.ipynb"
    nbformat.write(build_notebook(cells), path)
    return api.load(path)


def test_compiler_declares_models_and_directions(tmp_path: Path) -> None:
    pipe = _load(tmp_path, TINY)
    steps = {s.name: s for s in pipe.steps}
    assert steps["train"].models == ("threshold=model",)
    assert "model" in steps["train"].outputs
    assert steps["evaluate"].metrics == ("error", "score")
    assert steps["evaluate"].directions == {"error": "lower"}


def test_model_variable_becomes_an_output(tmp_path: Path) -> None:
    """A model nothing else reads is still stored, so it can be registered."""
    cells = [
        ("parameters", "k = 2"),
        ("step:fit model:m", "weights = [k] * 3\nfitted = {'w': weights}"),
        ("step:report", "n = k + 1"),
    ]
    pipe = _load(tmp_path, cells)
    fit = next(s for s in pipe.steps if s.name == "fit")
    assert fit.models == ("m=fitted",)
    assert "fitted" in fit.outputs


def test_model_tag_on_a_cell_that_assigns_nothing(tmp_path: Path) -> None:
    cells = [("step:a", "x = 1"), ("step:b model:m", "print(x)")]
    with pytest.raises(AnalysisError, match="model:m.*assigns no variable"):
        _load(tmp_path, cells)


def test_model_tag_on_a_metrics_cell(tmp_path: Path) -> None:
    cells = [("step:a", "x = 1"), ("metrics model:m", "x")]
    with pytest.raises(AnalysisError, match="model:m is on a metrics cell"):
        _load(tmp_path, cells)


def test_generated_pipeline_carries_the_declarations(tmp_path: Path) -> None:
    from mlops_helpers import convert, forget, pipeline

    package = convert(tmp_path, TINY)
    try:
        spec = pipeline(tmp_path, package)
        train = spec.step("train")
        assert train.models == ("threshold=model",)
        assert dict(spec.step("evaluate").directions) == {"error": "lower"}
    finally:
        forget(package)


def test_parse_limits() -> None:
    assert parse_limits(["accuracy=0.02", " rmse = 5% "]) == (
        Limit("accuracy", 0.02),
        Limit("rmse", 0.05, relative=True),
    )
    for bad in ("accuracy", "=0.1", "accuracy=x", "accuracy=-1", "a=nan", "a=inf"):
        with pytest.raises(UsageError, match="--max-regression expects"):
            parse_limits([bad])


def test_regressions() -> None:
    dirs = {"accuracy": "higher", "rmse": "lower"}
    base = {"accuracy": 0.90, "rmse": 10.0}
    limits = parse_limits(["accuracy=0.02", "rmse=10%"])
    assert regressions({"accuracy": 0.89, "rmse": 10.9}, base, limits, dirs) == []
    assert regressions({"accuracy": 0.95, "rmse": 5.0}, base, limits, dirs) == []
    failed = regressions({"accuracy": 0.87, "rmse": 11.5}, base, limits, dirs, against="wine:1")
    assert len(failed) == 2
    assert "accuracy = 0.87 is worse than wine:1's 0.9 by 0.03" in failed[0]
    assert "rmse" in failed[1] and "lower is better" in failed[1]
    # exactly at the limit passes; a metric missing from the run fails; a baseline without it passes
    assert regressions({"accuracy": 0.88, "rmse": 11.0}, base, limits, dirs) == []
    assert "not recorded" in regressions({"rmse": 1.0}, base, limits, dirs)[0]
    assert regressions({"accuracy": 0.1, "rmse": 1}, {}, limits, dirs) == []
    assert "not a number" in regressions({"accuracy": "x", "rmse": 1}, base, limits, dirs)[0]


def test_metrics_document() -> None:
    rec = {
        "run_id": "r1",
        "pipeline": "p",
        "status": "ok",
        "steps": {"evaluate": {"metrics": {"rmse": 3.0, "r2": 0.5}}, "other": {}},
        "metrics": {"rmse": 3.0, "r2": 0.5},
    }
    doc = metrics_document(rec, {"r2": "higher"})
    assert doc["metrics"] == {
        "rmse": {"value": 3.0, "step": "evaluate", "direction": "lower"},
        "r2": {"value": 0.5, "step": "evaluate", "direction": "higher"},
    }
