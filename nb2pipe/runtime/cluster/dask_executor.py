"""``--executor dask [--address tcp://HOST:PORT]``: steps as tasks of a dask.distributed
cluster; without an address, a ``LocalCluster`` of ``-j N`` worker processes (one thread
each) made for the run. ``-j N`` is how many steps are in flight at once.

A task is retried once when its worker dies under it (the scheduler's ``allowed-failures``
of a local cluster; a remote scheduler keeps its own setting), then the step fails as with
``-j N``. The workers' environments are checked before the first task (:mod:`.envcheck`).
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from typing import Any

from nb2pipe.runtime.cluster import envcheck
from nb2pipe.runtime.cluster.datafiles import Uploader, clean_scratch
from nb2pipe.runtime.cluster.worker import environment, run_task
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.execute import Handoff, StepOutcome, StepTask
from nb2pipe.runtime.executors import ExecutorContext, StepExecutor

RETRIES = 1  # a task whose worker dies runs once more


def _import() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--executor dask needs dask.distributed: pip install nb2pipe[dask]"
        ) from None
    return distributed


class DaskExecutor(StepExecutor):
    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        distributed = _import()
        import dask

        plan = context.plan
        address = getattr(plan.config, "address", None) if plan is not None else None
        self.cluster = None
        with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
            if address:
                try:
                    self.client = distributed.Client(address, timeout="20s")
                except OSError as exc:
                    raise UsageError(f"cannot reach the Dask scheduler {address}: {exc}") from None
            else:
                self.cluster = distributed.LocalCluster(
                    n_workers=max(1, context.jobs),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=40,  # logging.ERROR
                )
                self.client = distributed.Client(self.cluster)
        self.run_dirs: set[str] = set()
        self.uploader = Uploader(context.store)
        try:
            self._check(plan)
        except BaseException:
            self.shutdown()
            raise

    def _check(self, plan: Any) -> None:
        dists = envcheck.requirements(plan)
        here = envcheck.environment(dists)
        self.client.wait_for_workers(1, timeout=60)
        workers = self.client.run(environment, dists, on_error="return")
        envcheck.check("dask", here, workers)

    def submit(self, task: StepTask, handoff: Handoff | None = None) -> Future[StepOutcome]:
        files = self.uploader.stage(task)
        self.run_dirs.add(task.run_dir)
        remote = self.client.submit(
            run_task, task, files, key=f"{task.step.name}-{uuid.uuid4().hex}", pure=False
        )
        future: Future[StepOutcome] = Future()
        future.set_running_or_notify_cancel()

        def done(f: Any) -> None:
            try:
                future.set_result(f.result())
            except BaseException as exc:  # noqa: BLE001 - KilledWorker, CancelledError...
                future.set_exception(exc)

        remote.add_done_callback(done)
        return future

    def cancel(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        client, cluster = getattr(self, "client", None), self.cluster
        if client is not None:
            try:
                if self.run_dirs:
                    client.run(clean_scratch, sorted(self.run_dirs), on_error="ignore")
            except Exception:  # noqa: BLE001, S110 - a worker gone: its scratch with it
                pass
            client.close()
        if cluster is not None:
            cluster.close()
        self.client, self.cluster = None, None
