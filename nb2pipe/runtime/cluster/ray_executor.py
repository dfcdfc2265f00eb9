"""``--executor ray [--address ray://HOST:PORT]``: steps as Ray tasks; without an address,
a local Ray runtime started for the run (``ray.init`` with ``-j N`` CPUs) and stopped after.
``-j N`` is how many steps are in flight at once.

A task whose worker process dies is retried once (``max_retries=1``), then the step fails
as with ``-j N``. Each node's environment is checked before the first task
(:mod:`.envcheck`), by a task pinned to it.
"""

from __future__ import annotations

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
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install nb2pipe[ray]") from None
    return ray


class RayExecutor(StepExecutor):
    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        ray = self.ray = _import()
        plan = context.plan
        address = getattr(plan.config, "address", None) if plan is not None else None
        self.started = not ray.is_initialized()
        if self.started:
            options: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
            if address:
                options["address"] = address
            else:
                options["num_cpus"] = max(1, context.jobs)
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "a local Ray runtime"
                raise UsageError(f"cannot start {where}: {' '.join(str(exc).split())}") from None
        self.task = ray.remote(max_retries=RETRIES, num_cpus=1)(run_task)
        self.uploader = Uploader(context.store)
        self.run_dirs: set[str] = set()
        try:
            self._check(plan)
        except BaseException:
            self.shutdown()
            raise

    def _check(self, plan: Any) -> None:
        dists = envcheck.requirements(plan)
        refs = self._on_each_node(environment, dists)
        workers: dict[str, Any] = {}
        for name, ref in refs.items():
            try:
                workers[name] = self.ray.get(ref, timeout=120)
            except Exception as exc:  # noqa: BLE001 - named in the one-line error
                workers[name] = exc
        envcheck.check("ray", envcheck.environment(dists), workers)

    def _on_each_node(self, fn: Any, *args: Any) -> dict[str, Any]:
        """``fn(*args)`` as a task pinned to each live node: its name -> the task's ref."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = self.ray.remote(num_cpus=0, max_retries=0)(fn)
        return {
            f"{n.get('NodeManagerAddress')} ({n['NodeID'][:12]})": remote.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(*args)
            for n in self.ray.nodes()
            if n.get("Alive")
        }

    def submit(self, task: StepTask, handoff: Handoff | None = None) -> Future[StepOutcome]:
        files = self.uploader.stage(task)
        self.run_dirs.add(task.run_dir)
        return self.task.remote(task, files).future()

    def cancel(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Remove the run's scratch folders on every node (as Dask's), then stop a Ray
        runtime this run started."""
        if self.run_dirs and self.ray.is_initialized():
            try:
                refs = self._on_each_node(clean_scratch, sorted(self.run_dirs))
                self.ray.get(list(refs.values()), timeout=60)
            except Exception:  # noqa: BLE001, S110 - a node gone: its scratch with it
                pass
            self.run_dirs = set()
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False
