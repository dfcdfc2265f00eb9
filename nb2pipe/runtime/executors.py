"""Executors: the scheduling loop is the same for sequential and parallel runs; only the
executor differs (an inline one, or a pool of spawned worker processes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from nb2pipe.runtime.execute import init_worker
from nb2pipe.runtime.records import RunRecord


class InlineExecutor(Executor):
    """Runs each submitted call at once, in this process: the sequential executor."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        return future


def process_pool(jobs: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: no copied locks or threads; each worker imports only what it runs.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=init_worker)


def stop_pool(executor: Executor) -> None:
    for process in list(getattr(executor, "_processes", None) or {}.values()):
        try:
            process.terminate()
        except Exception:  # noqa: BLE001, S110 - already gone
            pass
    executor.shutdown(wait=False, cancel_futures=True)


class Flusher:
    """Writes run.json while a step runs inline in the main thread and takes longer than
    the record's interval, so the record shows it running. The record is only touched
    under the lock, and the main thread leaves it alone until the step returns."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.cond = threading.Condition()
        self.since: float | None = None
        self.stopped = False
        self.thread: threading.Thread | None = None

    def step_started(self) -> None:
        with self.cond:
            self.since = time.monotonic()
            self.cond.notify()
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="nb2pipe-record", daemon=True)
            self.thread.start()

    def step_ended(self) -> None:
        with self.cond:
            self.since = None

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _loop(self) -> None:
        with self.cond:
            while not self.stopped:
                if self.since is None:
                    self.cond.wait()
                    continue
                remaining = self.since + self.record.interval - time.monotonic()
                if remaining > 0:
                    self.cond.wait(remaining)
                    continue
                try:
                    self.record.flush()
                except OSError:
                    pass  # the next write will tell
                self.since = time.monotonic()
