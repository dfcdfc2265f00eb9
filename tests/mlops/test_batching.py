"""Adaptive batching of concurrent requests: what queued up while the model was busy is
predicted in one call, versions are never mixed, and a failing request fails alone."""

from __future__ import annotations

import threading

import pytest

from nb2pipe.mlops.batching import Batcher


class Model:
    """Doubles x; 'bad' values raise. Blocks its first call until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, served: str, columns: dict[str, list], proba: bool):
        self.started.set()
        self.release.wait(10)
        self.calls.append((served, len(columns["x"])))
        if any(v == "bad" for v in columns["x"]):
            raise ValueError("bad value")
        y = [2 * v for v in columns["x"]]
        return y, ([[v] for v in y] if proba else None)


def test_requests_queued_during_a_call_share_the_next_one() -> None:
    model = Model()
    batcher = Batcher(model)
    first = batcher.submit("v1", {"x": [1]}, 1, False)
    assert model.started.wait(10)
    waiting = [batcher.submit("v1", {"x": [i, i + 1]}, 2, i % 2 == 0) for i in range(10, 15)]
    other = batcher.submit("v2", {"x": [100]}, 1, False)  # another version: never mixed
    model.release.set()
    assert first.result(10) == ([2], None)
    assert [f.result(10)[0] for f in waiting] == [[2 * i, 2 * i + 2] for i in range(10, 15)]
    assert waiting[0].result(10)[1] == [[20], [22]] and waiting[1].result(10)[1] is None
    assert other.result(10) == ([200], None)
    batcher.close()
    assert model.calls == [("v1", 1), ("v1", 10), ("v2", 1)]


def test_a_failing_request_fails_alone() -> None:
    model = Model()
    batcher = Batcher(model)
    blocker = batcher.submit("v1", {"x": [0]}, 1, False)
    assert model.started.wait(10)
    good = batcher.submit("v1", {"x": [1]}, 1, False)
    bad = batcher.submit("v1", {"x": ["bad"]}, 1, False)
    model.release.set()
    assert blocker.result(10) == ([0], None) and good.result(10) == ([2], None)
    with pytest.raises(ValueError, match="bad value"):
        bad.result(10)
    batcher.close()
    assert model.calls == [("v1", 1), ("v1", 2), ("v1", 1), ("v1", 1)]
