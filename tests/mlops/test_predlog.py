"""The prediction log's two backends behind one interface: SQLite (WAL) and a real
PostgreSQL server started by the test. Order, labels (late, partial, repeated, unknown
ids), and the group-committing writer under concurrent requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_helpers import postgres

from nb2pipe.mlops.predlog import GroupWriter, LogError, Prediction, open_log


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
        return
    url = request.getfixturevalue("pg_url")
    yield url
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:  # each test starts empty
        conn.execute("DROP TABLE IF EXISTS predictions, labels")


def row(i: int, model: str = "m", ts: float = 100.0, version: int = 1) -> Prediction:
    return Prediction(f"id{i:04d}", ts, model, version, json.dumps({"x": i, "s": "a"}),
                      json.dumps({"prediction": i % 2}), 1.5)  # fmt: skip


def test_rows_come_back_in_order_with_their_values(log_url: str) -> None:
    log = open_log(log_url)
    log.write([row(i) for i in (3, 1, 2)])  # one batch, one timestamp: insertion order
    log.write([row(0, ts=50.0), row(9, model="other")])
    got = log.read("m")
    assert [r.id for r in got] == ["id0000", "id0003", "id0001", "id0002"]
    assert got[1].features == {"x": 3, "s": "a"} and got[1].output == {"prediction": 1}
    assert (got[1].version, got[1].latency_ms, got[1].labelled) == (1, 1.5, False)
    assert [r.id for r in log.read("m", since=60.0)] == ["id0003", "id0001", "id0002"]
    assert sorted(log.models()) == ["m", "other"]
    log.close()


def test_labels_late_partial_repeated_and_unknown(log_url: str) -> None:
    log = open_log(log_url)
    log.write([row(i) for i in range(6)])
    assert log.label([("id0000", 1), ("id0001", "cat")], ts=200.0) == []
    assert log.label([("id0001", "dog"), ("nope", 3), ("id0004", [1, 2])], ts=300.0) == ["nope"]
    log.write([row(6)])
    assert log.label([("id0006", 0.5)], ts=400.0) == []
    labels = {r.id: (r.labelled, r.label) for r in log.read("m")}
    assert labels == {
        "id0000": (True, 1),
        "id0001": (True, "dog"),  # the latest label counts
        "id0002": (False, None),
        "id0003": (False, None),
        "id0004": (True, [1, 2]),
        "id0005": (False, None),
        "id0006": (True, 0.5),
    }
    log.close()


def test_group_writer_commits_concurrent_requests(log_url: str) -> None:
    writer = GroupWriter(open_log(log_url), max_batch=64)
    done: list[int] = []

    def client(k: int) -> None:
        for j in range(25):
            writer.predictions([row(k * 100 + j)]).result(timeout=60)
            done.append(k)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.labels([("id0000", 1), ("x", 2)]).result(timeout=60) == ["x"]
    writer.close()
    assert len(done) == 200
    log = open_log(log_url)
    got = log.read("m")
    assert len(got) == 200 and len({r.id for r in got}) == 200
    assert next(r for r in got if r.id == "id0000").label == 1
    log.close()


def test_bad_log_urls(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="use postgresql://"):
        open_log("mysql://host/db")
    with pytest.raises(LogError, match="no prediction log at"):
        open_log(None, tmp_path / "runs", create=False)
    assert not (tmp_path / "runs").exists()
