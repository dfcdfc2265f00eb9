"""Run hooks: work before and after a run, as Kedro's hooks are (``before_pipeline_run``,
``after_pipeline_run``). The runner knows nothing of what they do; nb2pipe's own publish
hook (``nb2pipe.mlops.publish``: the baseline gate, model registration with its drift
profile and feature schema, MLflow tracking) is one of them.

A hook is a class registered under the entry-point group ``nb2pipe.run_hooks``::

    [project.entry-points."nb2pipe.run_hooks"]
    publish = "nb2pipe.mlops.publish:PublishHook"

A new instance is made for every run (``cls()``), and hooks are called in the order of
their ``order`` attribute (then their name). Each method is optional:

- ``before_run(plan)``: the options are checked and nothing is written yet; raise
  :class:`~nb2pipe.runtime.errors.UsageError` to refuse the run (exit 2).
- ``after_run(run)``: the steps are done and the record holds their results, the
  metrics and their directions; a hook adds to ``run.data`` (run.json) and may
  ``run.fail(message)`` (the run then exits 1).
- ``after_record(run)``: run.json and metrics.json are written; a hook may still fail
  the run (both files are written again).

``RunConfig.hooks`` replaces the installed hooks with the given instances (tests, an
embedding application); an empty tuple runs none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nb2pipe.runtime import entrypoints

if TYPE_CHECKING:
    from nb2pipe.runtime.plan import RunPlan
    from nb2pipe.runtime.progress import Reporter
    from nb2pipe.runtime.records import RunRecord
    from nb2pipe.runtime.store import ArtifactRef, Store

GROUP = "nb2pipe.run_hooks"


class RunHook:
    """The interface (every method optional; this base class does nothing)."""

    order = 100

    def before_run(self, plan: RunPlan) -> None:
        """Check the options; raise UsageError to refuse the run."""

    def after_run(self, run: FinishedRun) -> None:
        """The steps are done: add to the record, or fail the run."""

    def after_record(self, run: FinishedRun) -> None:
        """run.json and metrics.json are written."""


@dataclass
class FinishedRun:
    """What a hook sees of a run whose steps are done."""

    plan: RunPlan
    record: RunRecord
    reporter: Reporter
    store: Store
    states: dict[str, str]  # step -> ok | cached | failed | skipped
    refs: dict[str, dict[str, ArtifactRef]]  # step -> output -> artifact
    keys: dict[str, tuple[str, dict[str, Any]]]  # step -> (cache key, its components)

    @property
    def data(self) -> dict[str, Any]:
        """run.json's content (hooks add their own keys)."""
        return self.record.data

    @property
    def status(self) -> str:
        return str(self.record.data["status"])

    def fail(self, message: str) -> None:
        """Fail the run: its status becomes failed and ``message`` its error (unless a
        step's error came first)."""
        self.reporter.error(message)
        self.record.data["status"] = "failed"
        self.record.data["error"] = self.record.data.get("error") or message


def installed() -> list[Any]:
    """A new instance of every installed hook, in order."""
    hooks = []
    for name in sorted(entrypoints.declared(GROUP)):
        try:
            cls = entrypoints.load(GROUP, name)
        except Exception as exc:  # noqa: BLE001 - name the broken plugin
            from nb2pipe.runtime.errors import UsageError

            raise UsageError(
                f"the run hook {name!r} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from None
        hooks.append(cls())
    return sorted(hooks, key=lambda h: getattr(h, "order", RunHook.order))


def call(hooks: list[Any], method: str, arg: Any) -> None:
    for hook in hooks:
        fn = getattr(hook, method, None)
        if callable(fn):
            fn(arg)


def call_after(hooks: list[Any], method: str, run: FinishedRun) -> None:
    """``after_run`` / ``after_record``: a hook that raises fails the run, named in its
    record (the steps are done: the record must say why the run did not succeed)."""
    for hook in hooks:
        fn = getattr(hook, method, None)
        if not callable(fn):
            continue
        try:
            fn(run)
        except Exception as exc:  # noqa: BLE001 - any failure of a plugin
            why = " ".join(str(exc).split()) or "no message"
            run.fail(f"run hook {type(hook).__name__}.{method}: {type(exc).__name__}: {why}")
