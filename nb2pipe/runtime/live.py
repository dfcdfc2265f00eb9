"""Outputs handed over in memory, in a sequential run (``-j 1``).

A step's outputs stay in memory while a later step of the run still reads them, and are
given to it directly; large arrays and frames are stored meanwhile by the background
:class:`~nb2pipe.runtime.writer.Writer`. What the pipeline computes stays exactly what it
computes when each step reads its inputs from the store:

- an input a step declares it changes (it is also one of its outputs) is handed over as
  a copy-on-write view when pandas guarantees copy-on-write (a DataFrame or Series
  without object columns, pandas 3); otherwise every pending write finishes first, and
  later steps read the stored values rather than the changed objects;
- with ``--allow-mutation`` (an undeclared change is then allowed) or ``--no-guard`` (it is
  not checked), every pending write finishes before each step, and an input a step may
  have changed is read from the store by the steps after it;
- fingerprints of values handed over are known (an output's digest, or what the previous
  reader's guard found), so the guard hashes each input once per step, not twice.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future
from typing import Any

from nb2pipe.runtime import signals
from nb2pipe.runtime.execute import Handoff, StepOutcome
from nb2pipe.runtime.spec import Step
from nb2pipe.runtime.store import ArtifactRef, Store
from nb2pipe.runtime.writer import Writer

Key = tuple[str, str]  # (producing step, variable)


def cow_safe(value: Any) -> bool:
    """Can a shallow copy stand for ``value`` for a step that changes it in place, leaving
    the original untouched? pandas copy-on-write, without object columns (whose elements
    could be changed in place through either copy)."""
    pd = sys.modules.get("pandas")
    if pd is None or type(value) not in (pd.DataFrame, pd.Series):
        return False
    major = int(pd.__version__.split(".")[0])
    if major < 3 and pd.get_option("mode.copy_on_write") is not True:
        return False
    dtypes = [value.dtype] if type(value) is pd.Series else list(value.dtypes)
    return not any(getattr(d, "kind", "") == "O" for d in dtypes)


class Live:
    def __init__(
        self, store: Store, steps: list[Step], *, guard: bool, allow_mutation: bool
    ) -> None:
        self.store = store
        self.writer = Writer(store)
        self.guard = guard
        self.allow_mutation = allow_mutation
        self.values: dict[Key, Any] = {}
        self.known: dict[Key, str] = {}
        self.readers: dict[Key, int] = {}
        for step in steps:
            for var, prod in step.inputs.items():
                self.readers[(prod, var)] = self.readers.get((prod, var), 0) + 1
        self.pending: dict[str, dict[str, Future[ArtifactRef]]] = {}

    # -- before a step ----------------------------------------------------------------------

    def handoff(self, step: Step, durable: Any) -> Handoff:
        """What ``step`` gets from memory. ``durable(prod, var)``: the stored ref."""
        changes = [v for v in step.inputs if v in step.outputs]
        unsafe = [
            v
            for v in changes
            if (step.inputs[v], v) in self.values and not cow_safe(self.values[(step.inputs[v], v)])
        ]
        if unsafe or self.allow_mutation or not self.guard:
            self.writer.drain()
        values: dict[str, Any] = {}
        known: dict[str, str] = {}
        for var, prod in step.inputs.items():
            key = (prod, var)
            if key not in self.values:
                continue
            value = self.values[key]
            if var in changes and var not in unsafe:
                value = value.copy(deep=False)
            values[var] = value
            if key in self.known and var not in changes:
                known[var] = self.known[key]
        if unsafe:  # the step changes shared objects: later steps read stored values
            self.values.clear()
            self.known.clear()
        consumed = frozenset(o for o in step.outputs if self.readers.get((step.name, o), 0) > 0)
        return Handoff(
            values=values,
            known=known,
            writer=self.writer,
            consumed=consumed,
            ref_of=lambda var: durable(step.inputs[var], var),
        )

    # -- after a step -----------------------------------------------------------------------

    def finished(self, step: Step, outcome: StepOutcome | None, ran: bool = True) -> None:
        """``step`` is done: its inputs have one reader less; an ok step's outputs stay in
        memory while a later step reads them. ``outcome`` None: the step failed (``ran``:
        it may have changed its inputs) or did not run (cached, skipped)."""
        for var, prod in step.inputs.items():
            key = (prod, var)
            self.readers[key] = self.readers.get(key, 1) - 1
            changed = ran and (outcome is None or var in outcome.mutated or not self.guard)
            if self.readers[key] <= 0 or changed:
                self.values.pop(key, None)
                self.known.pop(key, None)
            elif outcome is not None and var in outcome.fingerprints:
                self.known[key] = outcome.fingerprints[var]
        if outcome is None:
            return
        for var, value in outcome.values.items():
            key = (step.name, var)
            if self.readers.get(key, 0) > 0:
                self.values[key] = value
                ref = outcome.outputs.get(var)
                content = ref.content if ref is not None else outcome.contents.get(var, "")
                if content:
                    self.known[key] = content
        outcome.values = {}
        if outcome.pending:
            self.pending[step.name] = dict(outcome.pending)
            outcome.pending = {}

    # -- writes -----------------------------------------------------------------------------

    def wait(self, name: str) -> None:
        for future in self.pending.get(name, {}).values():
            if not future.done():
                start = time.perf_counter()
                with signals.deferred():  # (a signal raised within a wait leaves a lock held)
                    future.exception()
                self.writer.waited += time.perf_counter() - start

    def ready(self) -> list[str]:
        """Steps whose pending outputs are all written (or failed)."""
        return [n for n, fs in self.pending.items() if all(f.done() for f in fs.values())]

    def take(self, name: str) -> tuple[dict[str, ArtifactRef], BaseException | None]:
        """The refs of a step's written outputs, and the first write error."""
        refs: dict[str, ArtifactRef] = {}
        error: BaseException | None = None
        for var, future in self.pending.pop(name, {}).items():
            if future.cancelled():
                error = error or KeyboardInterrupt()
                continue
            exc = future.exception()
            if exc is not None:
                error = error or exc
            else:
                refs[var] = future.result()
        return refs, error

    def close(self, cancel: bool = False) -> None:
        self.writer.close(cancel=cancel)
        self.values.clear()
        self.known.clear()
