"""Executors: where a step runs. The scheduling loop (:mod:`.scheduler`) is the same for
every executor, as Kedro's runners share one loop: it submits a :class:`StepTask` and gets
a future of the step's :class:`StepOutcome`.

An executor is a plugin, a :class:`StepExecutor` subclass registered under the entry-point
group ``nb2pipe.executors`` and chosen with ``--executor NAME`` (default: ``inline`` for
``-j 1``, else ``fork`` on Linux and ``process`` elsewhere)::

    [project.entry-points."nb2pipe.executors"]
    inline = "nb2pipe.runtime.executors:InlineExecutor"
    process = "nb2pipe.runtime.executors:ProcessExecutor"
    fork = "nb2pipe.runtime.forking:ForkExecutor"

An executor that runs steps in the scheduler's process (``in_process = True``) gets each
step's inputs in memory (a :class:`Handoff`) and the run's store; any other runs
:func:`~nb2pipe.runtime.execute.run_in_worker` somewhere (a spawned process, a Dask or Ray
worker) where the task's ``store_root`` is reachable: the worker loads its inputs from the
store and stores its outputs there, and the outcome names the artifacts it wrote.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from nb2pipe.runtime import entrypoints
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.execute import Handoff, StepOutcome, StepTask, execute, run_in_worker
from nb2pipe.runtime.records import RunRecord
from nb2pipe.runtime.store import Store

GROUP = "nb2pipe.executors"


@dataclass
class ExecutorContext:
    """What an executor is made with: the run's parallelism, store and record."""

    jobs: int  # how many steps may run at once
    store: Store
    record: RunRecord
    plan: Any = None  # the RunPlan (options such as --address, the steps, the package)


class StepExecutor:
    """The interface. ``submit`` must not block on the step unless ``in_process``."""

    in_process = False  # steps run in this process (they get their inputs in memory)
    in_memory = False  # gets each step's inputs in memory (a Handoff), in process or not

    def __init__(self, context: ExecutorContext) -> None:
        self.context = context

    def submit(self, task: StepTask, handoff: Handoff | None = None) -> Future[StepOutcome]:
        """Start the step; the future holds its outcome (or the exception that killed the
        worker). ``handoff``: in-memory inputs, given to ``in_process`` executors only."""
        raise NotImplementedError

    @property
    def broken(self) -> bool:
        """A worker died: the scheduler makes a new executor for the next steps."""
        return False

    def cancel(self) -> None:
        """Stop now (the run is interrupted or the executor broke): running steps die."""
        self.shutdown()

    def shutdown(self) -> None:
        """Wait for the running steps, then release the workers."""


class InlineExecutor(StepExecutor):
    """Runs each step at once, in this process: the sequential executor. run.json is
    written meanwhile when a step takes longer than the record's interval."""

    in_process = True
    in_memory = True

    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        self.flusher = Flusher(context.record)

    def submit(self, task: StepTask, handoff: Handoff | None = None) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        self.flusher.step_started()
        try:
            future.set_result(execute(task, self.context.store, handoff))
        except Exception as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        finally:
            self.flusher.step_ended()
        return future

    def shutdown(self) -> None:
        self.flusher.stop()


class ProcessExecutor(StepExecutor):
    """A pool of spawned worker processes (``-j N``)."""

    def __init__(self, context: ExecutorContext) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from nb2pipe.runtime.execute import init_worker

        super().__init__(context)
        # spawn, not fork: no copied locks or threads; each worker imports only what it runs.
        self.pool: Executor = ProcessPoolExecutor(
            max_workers=context.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
        )

    def submit(self, task: StepTask, handoff: Handoff | None = None) -> Future[StepOutcome]:
        return self.pool.submit(run_in_worker, task)

    @property
    def broken(self) -> bool:
        return bool(getattr(self.pool, "_broken", False))

    def cancel(self) -> None:
        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            try:
                process.terminate()
            except Exception:  # noqa: BLE001, S110 - already gone
                pass
        self.pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)


def executor_class(name: str | None, jobs: int) -> type[StepExecutor]:
    """The executor registered as ``name`` (None: inline for one job, else fork on Linux,
    process elsewhere: macOS frameworks are not fork-safe)."""
    name = name or ("inline" if jobs <= 1 else "fork" if sys.platform == "linux" else "process")
    try:
        cls = entrypoints.load(GROUP, name)
    except KeyError:
        known = ", ".join(sorted(entrypoints.declared(GROUP))) or "none installed"
        raise UsageError(f"unknown executor {name!r} (--executor: {known})") from None
    except Exception as exc:  # noqa: BLE001 - name the broken plugin
        raise UsageError(
            f"the executor {name!r} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, StepExecutor)):
        raise UsageError(f"the executor {name!r} is not a StepExecutor ({cls!r})")
    return cls


class Flusher:
    """Writes run.json while a step runs inline in the main thread and takes longer than
    the record's gap, so the record shows it running. The record is only touched
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
                remaining = self.since + self.record.gap - time.monotonic()
                if remaining > 0:
                    self.cond.wait(remaining)
                    continue
                try:
                    self.record.flush()
                except OSError:
                    pass  # the next write will tell
                self.since = time.monotonic()
