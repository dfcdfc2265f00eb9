"""Background persistence: large arrays and frames go to the store from one writer thread
while the next steps run (in the sequential, in-process executor); the run ends when every
artifact is durable.

The writer checks, after writing, that the value still has the digest it had when the step
returned (``verify``): a value a later step changed while it was written is never stored
under its name (see :class:`nb2pipe.runtime.store.ValueChanged`). One thread, in order:
the store's disk and the steps' CPU are what is overlapped, not writes with each other.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from nb2pipe.runtime import signals
from nb2pipe.runtime.store import ArtifactRef, Store


class Writer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[ArtifactRef]] = []
        self.waited = 0.0  # seconds the steps waited for writes

    def submit(self, value: Any, fmt: str, content: str) -> Future[ArtifactRef]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nb2pipe-writer")
        future = self._pool.submit(self.store.save_value, value, fmt, content, verify=True)
        self._futures.append(future)
        return future

    def busy(self) -> bool:
        self._futures = [f for f in self._futures if not f.done()]
        return bool(self._futures)

    def drain(self) -> None:
        """Wait until everything submitted so far is written (or failed)."""
        if self.busy():
            start = time.perf_counter()
            with signals.deferred():  # (a signal raised within wait() leaves locks held)
                wait(self._futures)
            self.waited += time.perf_counter() - start
            self._futures = []

    def close(self, cancel: bool = False) -> None:
        """Finish (or, with ``cancel``, drop) the queued writes; the current one always
        completes, and every write is atomic."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None
        self._futures = []
