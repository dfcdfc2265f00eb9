"""Adaptive batching: concurrent requests predicted in one call.

A model's ``predict`` costs about the same for one row as for a few dozen (a random forest
walks its trees once per call), so one thread calls the model for every request that
queued up while the previous call ran, then splits the answers. Nothing waits for a batch
to fill: a lone request is predicted at once. Requests for different versions (during a
swap) are never mixed, and when a batch fails, its requests are retried one by one so a
bad request fails alone. Rows must be independent, as they are for scikit-learn's
estimators; ``nb2pipe serve --no-batching`` predicts each request on its own.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

_STOP = object()


@dataclass
class Job:
    served: Any
    columns: dict[str, list]
    n: int
    proba: bool
    future: Future[tuple[list, list | None]] = field(default_factory=Future)


class Batcher:
    def __init__(self, predict: Callable[[Any, dict[str, list], bool], tuple[list, Any]],
                 max_rows: int = 4096) -> None:  # fmt: skip
        self.predict = predict
        self.max_rows = max_rows
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.held: collections.deque[Job] = collections.deque()
        self.thread = threading.Thread(target=self._loop, name="nb2pipe-predict", daemon=True)
        self.thread.start()

    def submit(self, served: Any, columns: dict[str, list], n: int, proba: bool) -> Future:
        job = Job(served, columns, n, proba)
        self.queue.put(job)
        return job.future

    def close(self) -> None:
        self.queue.put(_STOP)
        self.thread.join()

    def _next(self, block: bool) -> Any:
        if self.held:
            return self.held.popleft()
        return self.queue.get() if block else self.queue.get_nowait()

    def _loop(self) -> None:
        while True:
            first = self._next(block=True)
            if first is _STOP:
                return
            batch, rows, stop = [first], first.n, False
            later: list[Job] = []
            while rows < self.max_rows:
                try:
                    job = self._next(block=False)
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                if job.served is first.served:
                    batch.append(job)
                    rows += job.n
                else:
                    later.append(job)  # another version: its own batch
            self.held.extend(later)
            self._run(batch)
            if stop:
                for job in self.held:
                    self._run([job])
                return

    def _run(self, batch: list[Job]) -> None:
        if len(batch) == 1:
            job = batch[0]
            _settle(job.future, lambda: self.predict(job.served, job.columns, job.proba))
            return
        merged = {k: [v for job in batch for v in job.columns[k]] for k in batch[0].columns}
        want = any(job.proba for job in batch)
        try:
            y, proba = self.predict(batch[0].served, merged, want)
        except Exception:  # noqa: BLE001 - find the request that fails, alone
            for job in batch:
                self._run([job])
            return
        start = 0
        for job in batch:
            part = slice(start, start + job.n)
            start += job.n
            job.future.set_result(
                (y[part], proba[part] if proba is not None and job.proba else None)
            )


def _settle(fut: Future[Any], fn: Callable[[], Any]) -> None:
    try:
        fut.set_result(fn())
    except Exception as exc:  # noqa: BLE001 - the request hears about it
        fut.set_exception(exc)
