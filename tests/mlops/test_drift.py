"""Reference statistics and the drift comparison (PSI, KS, categories), on data bundled
with scikit-learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb2pipe.mlops.drift import DriftError, compare, profile, read_data  # noqa: E402


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame


def _rows(rows: list, status: str) -> set[str]:
    return {r.feature for r in rows if r.status == status}


def test_profile_of_training_inputs(wine: pd.DataFrame) -> None:
    X, y = wine.drop(columns="target"), wine["target"]
    ref = profile({"X_train": X, "y_train": y, "n": 3})
    assert ref is not None
    assert ref["sources"] == ["X_train", "y_train"]
    assert set(ref["features"]) == set(wine.columns)
    alcohol = ref["features"]["alcohol"]
    assert alcohol["kind"] == "numeric" and alcohol["count"] == len(wine)
    assert len(alcohol["quantiles"]) == 101 and abs(sum(alcohol["proportions"]) - 1) < 1e-9
    assert ref["features"]["target"]["source"] == "y_train"
    json.dumps(ref)  # stored as JSON
    assert profile({"model": object(), "n": 1}) is None


def test_unchanged_data_does_not_drift(wine: pd.DataFrame) -> None:
    train = wine.sample(frac=0.7, random_state=0)
    ref = profile({"X": train})
    for method in ("psi", "ks"):
        rows = compare(ref, wine, method=method)
        assert _rows(rows, "drift") == set(), [(r.feature, r.psi, r.ks) for r in rows]
        assert _rows(rows, "ok") == set(wine.columns)


def test_shifted_features_drift(wine: pd.DataFrame) -> None:
    ref = profile({"X": wine})
    new = wine.copy()
    new["alcohol"] += 1.5
    new["proline"] *= 1.6
    for method in ("psi", "ks"):
        rows = compare(ref, new, method=method)
        assert _rows(rows, "drift") == {"alcohol", "proline"}, method
    row = next(r for r in compare(ref, new) if r.feature == "alcohol")
    assert row.psi > 1 and row.ks > 0.4 and row.new_mean > row.reference_mean


def test_a_discrete_feature_keeps_its_steps(wine: pd.DataFrame) -> None:
    """KS against the reference's percentiles is near 0 for the same class frequencies."""
    ref = profile({"y": wine["target"]})
    row = compare(ref, wine, method="ks")[0]
    assert row.status == "ok" and row.ks < 0.02
    skewed = wine[wine["target"] != 2]
    assert compare(ref, skewed, method="ks")[0].status == "drift"


def test_categories() -> None:
    ref_df = pd.DataFrame({"colour": ["red"] * 50 + ["white"] * 50, "ok": [True, False] * 50})
    ref = profile({"X": ref_df})
    assert ref["features"]["colour"]["kind"] == "categorical"
    assert ref["features"]["ok"]["kind"] == "categorical"
    same = pd.DataFrame({"colour": ["white", "red"] * 30, "ok": [False, True] * 30})
    assert _rows(compare(ref, same), "drift") == set()
    new = pd.DataFrame({"colour": ["rosé"] * 40 + ["red"] * 10, "ok": [True] * 50})
    rows = {r.feature: r for r in compare(ref, new)}
    assert rows["colour"].status == "drift" and rows["colour"].new_categories == ["rosé"]
    assert rows["ok"].status == "drift"


def test_missing_and_unmatched_columns(wine: pd.DataFrame) -> None:
    ref = profile({"X": wine[["alcohol", "proline"]]})
    rows = compare(ref, wine[["alcohol", "hue"]])
    assert _rows(rows, "missing") == {"proline"} and _rows(rows, "ok") == {"alcohol"}
    with pytest.raises(DriftError, match="no column of the new data"):
        compare(ref, wine[["hue"]])
    text = pd.DataFrame({"alcohol": ["a", "b"], "proline": [1.0, 2.0]})
    assert next(r for r in compare(ref, text) if r.feature == "alcohol").status == "drift"


def test_threshold_and_method(wine: pd.DataFrame) -> None:
    ref = profile({"X": wine[["alcohol"]]})
    new = wine[["alcohol"]] + 0.3
    psi = compare(ref, new)[0].psi
    assert compare(ref, new, threshold=psi + 0.01)[0].status == "ok"
    assert compare(ref, new, threshold=psi - 0.01)[0].status == "drift"
    with pytest.raises(DriftError, match="unknown method"):
        compare(ref, new, method="chi2")


def test_arrays_are_profiled_by_column() -> None:
    arr = np.random.default_rng(0).normal(size=(500, 2))
    ref = profile({"X": arr})
    assert set(ref["features"]) == {"X[0]", "X[1]"}
    new = pd.DataFrame({"X[0]": arr[:, 0], "X[1]": arr[:, 1] + 2})
    assert _rows(compare(ref, new), "drift") == {"X[1]"}


def test_read_data(tmp_path: Path, wine: pd.DataFrame) -> None:
    wine.to_csv(tmp_path / "a.csv", index=False)
    wine.to_parquet(tmp_path / "a.parquet")
    wine.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    for name in ("a.csv", "a.parquet", "a.jsonl"):
        assert read_data(tmp_path / name).shape == wine.shape
    with pytest.raises(DriftError, match="no such file"):
        read_data(tmp_path / "missing.csv")
    (tmp_path / "bad.parquet").write_bytes(b"nope")
    with pytest.raises(DriftError, match="cannot read"):
        read_data(tmp_path / "bad.parquet")
