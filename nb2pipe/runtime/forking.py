"""The ``fork`` executor (``-j N`` on Linux): parallel steps in forked processes that
inherit their inputs in memory.

A spawned worker (the ``process`` executor) starts empty: every input it reads is loaded
from the store, and every output of every step, even a step that runs alone, is written
before the next step may start. On data-sized runs that costs more than the parallelism
gains. Here a step runs in the scheduler's own process, with the in-memory handover of a
sequential run, whenever it is the only step that can run; only steps that run beside
another one are forked. A forked child sees its inputs as they are in the parent's memory
(the kernel copies a page only when one side writes it, so a step that changes an input in
place changes its own copy), stores its outputs before it ends and sends back its outcome.

Forking a process that has threads is only safe when no other thread holds a lock the
child will need: the background writer is drained before each fork, and the child never
touches the parent's writer, store object or record.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from concurrent.futures import Future

from nb2pipe.runtime import signals
from nb2pipe.runtime.errors import Nb2pipeError
from nb2pipe.runtime.execute import (
    Handoff,
    StepOutcome,
    StepTask,
    execute,
    import_step,
    importable,
)
from nb2pipe.runtime.executors import ExecutorContext, InlineExecutor, StepExecutor
from nb2pipe.runtime.store import open_store
from nb2pipe.runtime.supervise import die_with_parent


class WorkerDied(Nb2pipeError):
    """The forked process ended without sending its outcome (os._exit, a crash, a kill)."""


class ForkExecutor(StepExecutor):
    in_process = False
    in_memory = True  # the scheduler hands inputs over in memory (a Handoff) and says
    # (Handoff.alone) when the step is the only one that can run

    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        self.inline = InlineExecutor(context)
        self.children: dict[int, threading.Thread] = {}
        self.lock = threading.Lock()

    def submit(self, task: StepTask, handoff: Handoff | None = None) -> Future[StepOutcome]:
        if handoff is None or handoff.alone:
            return self.inline.submit(task, handoff)
        _preload(task)  # (while the writer writes the previous steps' outputs)
        if handoff.writer is not None:
            handoff.writer.drain()  # no writer thread mid-write at the fork
        refs = {var: handoff.ref_of(var) for var in handoff.values} if handoff.ref_of else {}
        given = Handoff(values=handoff.values, known=handoff.known, ref_of=refs.__getitem__)
        future: Future[StepOutcome] = Future()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        with signals.deferred():  # a child forked is a child registered, that cancel() kills
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: run the step, send the outcome, leave without cleanup
                os.close(read)
                _child(task, given, write, parent)
            os.close(write)
            waiter = threading.Thread(
                target=self._wait, args=(pid, read, future), name=f"nb2pipe-fork-{pid}", daemon=True
            )
            with self.lock:
                self.children[pid] = waiter
            waiter.start()
        return future

    def _wait(self, pid: int, read: int, future: Future[StepOutcome]) -> None:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        with self.lock:
            self.children.pop(pid, None)
        try:
            outcome = pickle.loads(data) if data else None
        except Exception:  # noqa: BLE001 - a partial message: the child died sending it
            outcome = None
        if isinstance(outcome, StepOutcome):
            future.set_result(outcome)
            return
        code = os.waitstatus_to_exitcode(status)
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        future.set_exception(WorkerDied(f"the forked process {pid} ended with {how}"))

    def cancel(self) -> None:
        with self.lock:
            pids = list(self.children)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.shutdown()

    def shutdown(self) -> None:
        with self.lock:
            waiters = list(self.children.values())
        for waiter in waiters:
            waiter.join()
        self.inline.shutdown()


def _preload(task: StepTask) -> None:
    """Import the step's module here, before the fork: the children of parallel steps
    inherit its imports instead of each importing the same libraries at once, and this
    process has them to read back what the children return (a fitted scikit-learn model
    that a later step loads). A module that fails to import fails again in the child,
    which reports it in the step's record and log."""
    try:
        with importable(task.workdir):
            import_step(task.package, task.step.name)
    except Exception:  # noqa: BLE001, S110 - reported by the child
        pass


def _child(task: StepTask, handoff: Handoff, write: int, parent: int) -> None:
    """In the forked process. Never returns."""
    code = 0
    try:
        die_with_parent(parent)  # a runner killed with SIGKILL leaves no step running
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        store = open_store(task.store_root)  # its own: the parent's may hold locks
        outcome = execute(task, store, handoff)
        outcome.values = {}  # the outputs are in the store; the parent reads them there
        outcome.written = list(store.written)
        payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
    except BaseException:  # noqa: BLE001 - the parent reports a child without outcome
        code = 70
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
