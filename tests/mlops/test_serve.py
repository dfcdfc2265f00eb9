"""``nb2pipe serve``: a real uvicorn process on 127.0.0.1 and real httpx clients. Requests
checked against the schema recorded at registration, every acknowledged prediction in the
log (also after SIGKILL under load), feedback joins, and hot swaps under load."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import httpx
import pytest
from mlops_helpers import run_cli
from serve_helpers import FEATURES, Load, Server, cli, trained, wine_rows

from nb2pipe.mlops.predlog import open_log

pytestmark = pytest.mark.integration


def training_split():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    df = load_wine(as_frame=True).frame
    x, y = df.drop(columns="target"), df["target"]
    return train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)[0]


def post(url: str, body: object, path: str = "/predict") -> httpx.Response:
    return httpx.post(url + path, content=json.dumps(body), timeout=30)


def test_predict_model_and_schema_errors(tmp_path: Path) -> None:
    trained(tmp_path)
    records, labels = wine_rows(3)
    with Server(tmp_path, ("wine", "--max-batch", "50")) as server:
        url = server.url
        ok = post(url, {"records": records, "proba": True})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert (body["model"], body["version"]) == ("wine", 1)
        assert ok.headers["x-model-version"] == "1"
        assert body["predictions"] == labels and len(set(body["ids"])) == 3
        assert body["classes"] == [0, 1, 2] and len(body["probabilities"][0]) == 3
        assert math.isclose(sum(body["probabilities"][0]), 1.0)
        columns = {k: [r[k] for r in records] for k in FEATURES}
        assert post(url, {"columns": columns}).json()["predictions"] == labels

        info = httpx.get(url + "/model").json()
        assert (info["version"], info["follows"], info["primary"]) == (1, "champion", "accuracy")
        schema = info["schema"]
        assert [f["name"] for f in schema["features"]] == FEATURES
        assert schema["target"] == "target" and schema["classes"] == [0, 1, 2]
        train = training_split()  # the range is the one seen in training
        assert schema["features"][0] == {
            "name": "alcohol",
            "dtype": "float64",
            "nullable": False,
            "type": "number",
            "min": train["alcohol"].min(),
            "max": train["alcohol"].max(),
        }
        openapi = httpx.get(url + "/openapi.json").json()
        request = openapi["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
        assert list(request["example"]["records"][0]) == FEATURES

        def error(payload: object, status: int = 422) -> str:
            r = post(url, payload)
            assert r.status_code == status, r.text
            assert "Traceback" not in r.text
            return r.json()["error"]

        missing = {k: v for k, v in records[0].items() if k != "hue"}
        assert error({"records": [records[0], missing]}) == "records[1].hue: field required"
        wrong = {**records[0], "proline": "a lot"}
        assert error({"records": [wrong]}) == (
            "records[0].proline: expected a number, got a string"
        )
        extra = {**records[0], "colour": 3}
        assert error({"records": [extra]}) == (
            "records[0].colour: extra field: not a feature of the model"
        )
        nan = {**records[0], "ash": float("nan")}
        assert error({"records": [nan]}) == (
            "records[0].ash: is null or NaN, and the model was trained without missing values"
        )
        assert error({"columns": {**columns, "ash": [1.0, None, 2.0]}}).startswith(
            "columns.ash[1]: is null or NaN"
        )
        assert error({"records": [records[0]] * 51}, 413) == (
            "51 rows is more than the limit of 50 rows per request (--max-batch)"
        )
        bad_json = httpx.post(url + "/predict", content=b"{not json", timeout=10)
        assert bad_json.status_code == 422 and "not JSON" in bad_json.json()["error"]
        assert error({"rows": []}).startswith('give either "records"')
        shifted = post(url, {"records": [{**records[0], "alcohol": 20.0}]}).json()
        assert shifted["outside_training_range"] == ["alcohol"]

    log = open_log(None, tmp_path / "runs")
    logged = log.read("wine")
    log.close()
    assert [r.id for r in logged[:3]] == body["ids"]  # in the order of the batch
    assert logged[0].features == records[0] and logged[0].version == 1
    assert logged[0].output == {"prediction": labels[0], "proba": body["probabilities"][0]}
    assert len(logged) == 3 + 3 + 1  # refused requests are not predictions


def test_feedback_late_partial_and_repeated_labels(tmp_path: Path) -> None:
    trained(tmp_path)
    records, labels = wine_rows(30)
    with Server(tmp_path, ("wine",)) as server:
        first = post(server.url, {"records": records[:20]}).json()["ids"]
        partial = [{"id": i, "label": labels[n]} for n, i in enumerate(first[:10])]
        assert post(server.url, {"labels": partial}, "/feedback").json() == {
            "accepted": 10,
            "unknown": [],
        }
        later = post(server.url, {"records": records[20:]}).json()["ids"]
        # late labels for the first batch, corrections of five, one id that does not exist
        again = [{"id": i, "label": 2} for i in first[5:15]] + [{"id": "nope", "label": 1}]
        r = post(server.url, {"labels": again}, "/feedback")
        assert r.json() == {"accepted": 10, "unknown": ["nope"]}
        one = post(server.url, {"id": later[0], "label": 0}, "/feedback")
        assert one.json() == {"accepted": 1, "unknown": []}
        unknown = post(server.url, {"labels": [{"id": "x", "label": 1}]}, "/feedback")
        assert unknown.status_code == 404 and unknown.json()["detail"] == {"unknown": ["x"]}
        null = post(server.url, {"labels": [{"id": first[0], "label": None}]}, "/feedback")
        assert null.status_code == 422 and null.json()["error"].startswith("labels[0].label")
    log = open_log(None, tmp_path / "runs")
    rows = {r.id: r for r in log.read("wine")}
    log.close()
    assert [rows[i].label for i in first[:5]] == labels[:5]  # labelled once
    assert [rows[i].label for i in first[5:15]] == [2] * 10  # the latest label counts
    assert not any(rows[i].labelled for i in first[15:] + later[1:])
    assert (rows[later[0]].labelled, rows[later[0]].label) == (True, 0)


def test_redacted_features_are_never_logged(tmp_path: Path) -> None:
    trained(tmp_path)
    records, _ = wine_rows(2)
    with Server(tmp_path, ("wine", "--redact", "proline", "--redact", "hue")) as server:
        assert post(server.url, {"records": records}).status_code == 200
    log = open_log(None, tmp_path / "runs")
    logged = log.read("wine")
    log.close()
    assert {"proline", "hue"} & set(logged[0].features) == set()
    assert len(logged[0].features) == len(FEATURES) - 2
    raw = (tmp_path / "runs" / "predictions.db").read_bytes()
    assert b"proline" not in raw and str(records[0]["proline"]).encode() not in raw


def test_sigkill_under_load_loses_no_acknowledged_prediction(tmp_path: Path) -> None:
    trained(tmp_path)
    records, _ = wine_rows()
    with Server(tmp_path, ("wine",)) as server, Load(server.url, records, clients=6) as load:
        time.sleep(3)
        server.kill()  # SIGKILL: no shutdown, no flush
        time.sleep(0.5)
    acknowledged = {i for body in load.answered() for i in body["ids"]}
    assert len(acknowledged) > 50, server.output()
    log = open_log(None, tmp_path / "runs")
    logged = {r.id for r in log.read("wine")}
    log.close()
    assert acknowledged <= logged  # every 200 is in the log
    failed = [body for res in load.results for code, body in res if code not in (0, 200)]
    assert failed == []


def test_hot_swap_under_load_fails_no_request(tmp_path: Path) -> None:
    package = trained(tmp_path)
    done = run_cli(tmp_path, package, "-p", "C=0.01", "--promote", "never")
    assert done.returncode == 0, done.stderr
    assert "model wine:2 registered; champion stays wine:1" in done.stdout
    records, _ = wine_rows()
    with (
        Server(tmp_path, ("wine", "--poll", "0.2")) as server,
        Load(server.url, records, clients=4) as load,
    ):
        time.sleep(1.5)
        promoted = cli(tmp_path, "models", "promote", "wine:2", "--runs-dir", "runs")
        assert promoted.returncode == 0, promoted.stderr
        deadline = time.time() + 30
        while time.time() < deadline and httpx.get(server.url + "/health").json()["version"] != 2:
            time.sleep(0.1)
        time.sleep(1.5)
    assert "now serving wine:2 (was wine:1)" in server.output()
    codes = [code for res in load.results for code, _ in res]
    assert codes and set(codes) == {200}, [b for res in load.results for c, b in res if c != 200]
    for res in load.results:  # each client sees version 1, then version 2, never back
        versions = [body["version"] for _, body in res]
        assert versions == sorted(versions) and versions[0] == 1 and versions[-1] == 2
    log = open_log(None, tmp_path / "runs")
    logged = {r.id: r.version for r in log.read("wine")}
    log.close()
    answered = load.answered()
    assert all(logged[b["ids"][0]] == b["version"] for b in answered)


def test_two_workers_share_the_log(tmp_path: Path) -> None:
    trained(tmp_path)
    records, _ = wine_rows(40)
    with Server(tmp_path, ("wine", "--workers", "2")) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:

            def send(part: list) -> None:
                for r in part:
                    assert client.post("/predict", json={"records": [r]}).status_code == 200

            threads = [threading.Thread(target=send, args=(records[i::4],)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    log = open_log(None, tmp_path / "runs")
    assert len(log.read("wine")) == 40
    log.close()


def test_bad_serve_commands_are_one_line(tmp_path: Path) -> None:
    trained(tmp_path)
    missing = cli(tmp_path, "serve", "nope", "--runs-dir", "runs")
    assert missing.returncode == 2 and missing.stderr.startswith("error: no model 'nope'")
    version = cli(tmp_path, "serve", "wine:7", "--runs-dir", "runs")
    assert version.returncode == 2 and "has no version 7" in version.stderr
    bad = cli(tmp_path, "serve", "wine", "--log-url", "mysql://x/y", "--runs-dir", "runs")
    assert bad.returncode == 2 and "--log-url 'mysql://x/y'" in bad.stderr
    assert "Traceback" not in missing.stderr + version.stderr + bad.stderr


def test_replicas_log_to_postgresql_and_lose_nothing_on_sigkill(tmp_path: Path) -> None:
    """Two servers (two workers each) share one real PostgreSQL log; both are SIGKILLed
    under load and every acknowledged prediction is there, feedback from either joins."""
    from pg_helpers import postgres

    trained(tmp_path)
    records, _ = wine_rows()
    with postgres() as url:
        args = ("wine", "--log-url", url, "--workers", "2")
        with Server(tmp_path, args) as a, Server(tmp_path, args) as b:
            with Load(a.url, records, clients=3) as la, Load(b.url, records, clients=3) as lb:
                time.sleep(3)
                a.kill()
                b.kill()
        answered = la.answered() + lb.answered()
        acknowledged = {i for body in answered for i in body["ids"]}
        assert len(acknowledged) > 50
        log = open_log(url)
        logged = {r.id for r in log.read("wine")}
        assert acknowledged <= logged
        with Server(tmp_path, args) as c:  # labels for predictions another replica made
            ids = sorted(acknowledged)[:5]
            r = post(c.url, {"labels": [{"id": i, "label": 1} for i in ids]}, "/feedback")
            assert r.json() == {"accepted": 5, "unknown": []}
        assert sum(r.labelled for r in log.read("wine")) == 5
        log.close()
