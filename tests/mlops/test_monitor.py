"""``nb2pipe monitor``'s computations on a synthetic log with a known answer: three
windows, the third with one feature shifted, predictions drifting and 40 % of the labels
wrong; count and time windows; the labelled export and the offline page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb2pipe.mlops import monitor as mon
from nb2pipe.mlops.drift import profile
from nb2pipe.mlops.predlog import Prediction, open_log
from nb2pipe.mlops.registry import ModelVersion
from nb2pipe.mlops.schema import infer
from nb2pipe.viz.monitor import write_page

N = 500


class Threshold:
    """A fitted 'model': class 1 when a > 0 (feature_names_in_ like scikit-learn's)."""

    feature_names_in_ = np.array(["a", "b"], dtype=object)
    classes_ = np.array([0, 1])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return (x["a"] > 0).astype(int).to_numpy()


def training() -> dict[str, object]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.choice(["x", "y"], size=5000)})
    return {"X_train": x, "y_train": pd.Series((x["a"] > 0).astype(int), name="label")}


def version() -> mon.Version:
    inputs = training()
    meta = ModelVersion(
        name="m", version=1, metrics={"val_accuracy": 0.95}, directions={}, primary="val_accuracy",
        schema=json.loads(json.dumps(infer(Threshold(), inputs))),
    )  # fmt: skip
    return mon.Version(meta, json.loads(json.dumps(profile(inputs))))


def synthetic(start: float = 0.0, spacing: float = 1.0) -> list:
    """Windows 1 and 2 like the training data, labels right; window 3 with a + 2 and
    every fifth and sixth... exactly 40 % of its labels wrong."""
    rng = np.random.default_rng(1)
    rows, labels = [], []
    for w in range(3):
        a = rng.normal(size=N) + (2.0 if w == 2 else 0.0)
        b = rng.choice(["x", "y"], size=N)
        for i in range(N):
            pred = int(a[i] > 0)
            wrong = w == 2 and i % 5 in (0, 1)
            n = w * N + i
            rows.append(
                Prediction(
                    f"p{n:05d}",
                    start + n * spacing,
                    "m",
                    1,
                    json.dumps({"a": float(a[i]), "b": str(b[i])}),
                    json.dumps({"prediction": pred}),
                    1.0,
                )  # fmt: skip
            )
            labels.append((f"p{n:05d}", 1 - pred if wrong else pred))
    return rows, labels


@pytest.fixture
def logged(tmp_path: Path):
    rows, labels = synthetic()
    log = open_log(None, tmp_path)
    log.write(rows)
    log.label(labels, ts=10_000.0)
    out = log.read("m")
    log.close()
    return out


def test_count_windows_find_the_shift_and_the_drop(logged: list) -> None:
    report = mon.monitor("m", logged, {1: version()}, window=mon.parse_window("500"))
    w1, w2, w3 = report.windows
    assert [w.count for w in report.windows] == [N, N, N]
    assert w1.flags == [] and w2.flags == []
    assert w1.live == 1.0 and w1.registered == 0.95 and w1.metric == "val_accuracy"
    assert w3.drifted == ["a"]  # b did not move
    assert w3.live == pytest.approx(0.6)  # exactly 40 % wrong
    assert w3.drop == pytest.approx(0.35)
    assert w3.prediction is not None and w3.prediction.status == "drift"
    assert w1.prediction is not None and w1.prediction.status == "ok"
    assert [f.split(":")[0] for f in w3.flags] == ["input drift", "prediction drift", "performance"]
    assert "val_accuracy 0.6 live vs 0.95 registered (worse by 0.35, limit 0.05)" in w3.flags[2]
    assert report.exit_code == 1
    doc = report.to_json()
    assert doc["crossed"] == w3.flags and doc["windows"][2]["drifted"] == ["a"]


def test_thresholds_and_time_windows(logged: list, tmp_path: Path) -> None:
    relaxed = mon.monitor(
        "m", logged, {1: version()}, window=mon.parse_window("500"), psi=100.0,
        max_drop=mon.parse_drop("50%"),
    )  # fmt: skip
    assert relaxed.exit_code == 0 and relaxed.windows[2].flags == []
    rows, labels = synthetic(start=7200.0, spacing=1200.0 / N)  # 3 x 20 min from 02:00
    log = open_log(None, tmp_path / "t")
    log.write(rows)
    log.label(labels, ts=0.0)
    hourly = mon.monitor("m", log.read("m"), {1: version()}, window=mon.parse_window("1h"))
    log.close()
    assert [w.count for w in hourly.windows] == [3 * N]  # one hour holds all three
    twenty = mon.monitor("m", log_rows(tmp_path), {1: version()}, window=mon.parse_window("20m"))
    assert [w.count for w in twenty.windows] == [N, N, N]
    assert twenty.windows[2].drifted == ["a"] and twenty.windows[0].flags == []
    few = mon.monitor("m", logged[:10], {1: version()}, window=mon.parse_window("500"))
    assert few.windows[0].features == [] and few.windows[0].live is None  # too few to judge


def log_rows(tmp_path: Path) -> list:
    log = open_log(None, tmp_path / "t")
    try:
        return log.read("m")
    finally:
        log.close()


@pytest.mark.parametrize("bad", ["0", "1y", "-5m", "h"])
def test_bad_windows(bad: str) -> None:
    with pytest.raises(mon.MonitorError, match="--window"):
        mon.parse_window(bad)


def test_export_and_page(logged: list, tmp_path: Path) -> None:
    frame = mon.labelled_frame(logged, version().meta.schema, "label")
    assert list(frame.columns) == ["a", "b", "label"] and len(frame) == 3 * N
    assert frame["label"].tolist()[:3] == [r.label for r in logged[:3]]
    mon.write_frame(frame, tmp_path / "new.parquet")
    back = pd.read_parquet(tmp_path / "new.parquet")
    assert back.equals(frame) and str(back["a"].dtype) == "float64"
    with pytest.raises(mon.MonitorError, match=".parquet, .csv or .jsonl"):
        mon.write_frame(frame, tmp_path / "new.xlsx")
    report = mon.monitor("m", logged, {1: version()}, window=mon.parse_window("500"))
    page = tmp_path / "monitor.html"
    write_page(report, page)
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert html.count("<svg") == 4 and 'data-crossed="yes"' in html
    assert re.search(r'<tr data-window="3" data-crossed="yes">', html)
    assert "val_accuracy 0.6 live vs 0.95 registered" in html


def test_monitor_command_bad_input_is_one_line(tmp_path: Path) -> None:
    from mlops_helpers import nb2pipe

    none = nb2pipe(tmp_path, "monitor", "wine")
    assert none.returncode == 2
    assert none.stderr.strip() == (
        f"error: no prediction log at {tmp_path / 'runs' / 'predictions.db'} "
        "(start `nb2pipe serve` first)"
    )
    log = open_log(None, tmp_path / "runs")
    log.write(synthetic()[0][:3])
    log.close()
    other = nb2pipe(tmp_path, "monitor", "wine")
    assert other.returncode == 2 and "no predictions of 'wine' in the log" in other.stderr
    window = nb2pipe(tmp_path, "monitor", "m", "--window", "0")
    assert window.returncode == 2 and "--window '0'" in window.stderr
    since = nb2pipe(tmp_path, "monitor", "m", "--since", "100")
    assert since.returncode == 2 and "--since takes a period" in since.stderr
    drop = nb2pipe(tmp_path, "monitor", "m", "--max-drop", "-1")
    assert drop.returncode == 2 and "--max-drop '-1'" in drop.stderr
    assert "Traceback" not in none.stderr + other.stderr + window.stderr + drop.stderr
