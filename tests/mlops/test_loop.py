"""The continuous-training loop of the README, end to end on sample notebook (a): run ->
serve -> shifted traffic with labels -> monitor flags drift and a drop -> export ->
retrain on the exported data -> the new version is promoted (not worse than the champion)
-> the running server answers with it -> monitor shows the recovery."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from mlops_helpers import REPO, run_cli
from serve_helpers import Server, cli

pytestmark = pytest.mark.integration
OD = "od280/od315_of_diluted_wines"


def shifted() -> tuple[list[dict[str, float]], list[int]]:
    """The wine data measured by a recalibrated lab: five readings halved, colour doubled
    (the data gate still passes); the forest of version 1 gets most of it wrong."""
    from sklearn.datasets import load_wine

    df = load_wine(as_frame=True).frame
    for column in ("proline", "flavanoids", OD, "total_phenols", "hue"):
        df[column] = df[column] * 0.5
    df["color_intensity"] = df["color_intensity"] * 2
    df["flavanoid_ratio"] = df["flavanoids"] / df["total_phenols"]
    labels = [int(v) for v in df.pop("target")]
    return df.to_dict(orient="records"), labels


def traffic(url: str, records: list[dict], labels: list[int]) -> list[int]:
    """Predictions in batches of 20 (in order), then every label: returns the versions."""
    versions = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(records), 20):
            r = client.post("/predict", json={"records": records[start : start + 20]})
            assert r.status_code == 200, r.text
            body = r.json()
            versions.append(body["version"])
            feedback = [{"id": i, "label": labels[start + k]} for k, i in enumerate(body["ids"])]
            assert client.post("/feedback", json={"labels": feedback}).status_code == 200
    return versions


def monitor(folder: Path, *args: str) -> tuple[int, dict]:
    done = cli(folder, "monitor", "wine", "--runs-dir", "runs", "--window", "178", "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_the_continuous_training_loop(tmp_path: Path) -> None:
    from nb2pipe import api

    (tmp_path / "nb").mkdir()
    shutil.copy(REPO / "sample_notebooks" / "wine_classifier.ipynb", tmp_path / "nb")
    api.convert(tmp_path / "nb" / "wine_classifier.ipynb", tmp_path / "wine")
    first = run_cli(tmp_path, "wine", "--run-id", "v1")  # 1. train: wine:1, the champion
    assert first.returncode == 0, first.stderr
    records, labels = shifted()
    with Server(tmp_path, ("wine", "--poll", "0.3")) as server:  # 2. serve
        assert set(traffic(server.url, records, labels)) == {1}

        code, report = monitor(tmp_path)  # 3. monitor: drift and a drop
        assert code == 1
        (w1,) = report["windows"]
        assert {"proline", "color_intensity", "hue"} <= set(w1["drifted"])
        assert "alcohol" not in w1["drifted"]  # untouched readings do not drift
        assert w1["live"] < 0.5 and w1["registered"] > 0.9 and w1["metric"] == "best_accuracy"
        assert [f.split(":")[0] for f in report["crossed"]] == [
            "input drift", "prediction drift", "performance",
        ]  # fmt: skip

        export = cli(tmp_path, "monitor", "wine", "--runs-dir", "runs", "--export",
                     "nb/new.parquet")  # fmt: skip  # 4. the labelled production data
        assert export.returncode == 1, export.stderr  # the thresholds are still crossed
        assert "wrote 178 labelled predictions to nb/new.parquet (label: target)" in export.stderr
        new = pd.read_parquet(tmp_path / "nb" / "new.parquet")
        assert new.shape == (178, 15) and new["target"].tolist() == labels

        retrain = run_cli(tmp_path, "wine", "-p", "data_path=new.parquet", "--run-id", "v2")
        assert retrain.returncode == 0, retrain.stderr  # 5. retrain: gates pass, promoted
        assert "model wine:2 registered; champion wine:1 -> wine:2 (best_accuracy" in retrain.stdout
        assert "new.parquet (parameter data_path)" in json.dumps(
            json.loads((tmp_path / "runs" / "v2" / "run.json").read_text())["steps"]["load"]
        )
        deadline = time.time() + 30
        while httpx.get(server.url + "/health").json()["version"] != 2:
            assert time.time() < deadline, server.output()
            time.sleep(0.2)
        assert set(traffic(server.url, records, labels)) == {2}  # the server answers with v2

    code, report = monitor(tmp_path)  # the recovery
    assert code == 0, report["crossed"]
    old, latest = report["windows"]
    assert old["flags"] and latest["flags"] == []
    assert latest["version"] == 2 and latest["drifted"] == [] and latest["live"] > 0.95
    page = tmp_path / "monitor.html"
    assert cli(tmp_path, "monitor", "wine", "--runs-dir", "runs", "--window", "178",
               "--html", str(page)).returncode == 0  # fmt: skip
    assert "<svg" in page.read_text()
