"""The scheduling loop over the DAG.

A step becomes ready when its upstream steps are done. Its cache key is computed then,
from digests only (code, parameters, its inputs' digests, files, versions), so a fully
cached run loads no artifact and imports none of the steps' libraries. A step that misses
the cache is submitted to the executor.

In a sequential run (``-j 1``) steps run in this process and hand their outputs to the
next steps in memory (:class:`Live`); large arrays and frames are stored by a background
writer meanwhile, and a step's cache entry is written once all its outputs are durable.
A worker process (``-j N``) loads its inputs from the store and stores its outputs itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from typing import Any

from nb2pipe.runtime import signals
from nb2pipe.runtime.cache import KeyContext, cache_key, explain, key_components
from nb2pipe.runtime.errors import CorruptArtifact
from nb2pipe.runtime.execute import StepError, StepOutcome
from nb2pipe.runtime.executors import ExecutorContext, StepExecutor
from nb2pipe.runtime.live import Live
from nb2pipe.runtime.plan import RunPlan
from nb2pipe.runtime.progress import Reporter
from nb2pipe.runtime.providers import Provided, valid_refs
from nb2pipe.runtime.records import RunRecord, iso
from nb2pipe.runtime.spec import Step
from nb2pipe.runtime.store import ArtifactRef, Store, ValueChanged

STOPPED = ("timed_out", "out_of_memory")  # failed steps recorded with their own status
_BAD = ("failed", "skipped", *STOPPED)
_EVENT = ("submitted", "start", "end", "duration", "pid", "reason", "error")


def redact(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


class Scheduler:
    def __init__(
        self,
        *,
        plan: RunPlan,
        store: Store,
        ctx: KeyContext,
        record: RunRecord,
        reporter: Reporter,
    ) -> None:
        self.plan = plan
        self.p = plan.pipeline
        self.by_name = {s.name: s for s in self.p.steps}
        self.selected = plan.selected
        self.values = plan.values
        self.secret = plan.secret
        self.store = store
        self.ctx = ctx
        self.record = record
        self.reporter = reporter
        self.jobs = max(1, plan.config.jobs)
        self.force = plan.config.force
        self.verbose = plan.config.verbose
        self.redact = plan.hidden
        self.state: dict[str, str] = {}
        self.refs: dict[str, dict[str, ArtifactRef]] = {}
        self.keys: dict[str, tuple[str, dict[str, Any]]] = {}
        self.metrics: dict[str, Any] = {}
        self.errors: list[str] = []
        self.executor: StepExecutor | None = None
        self.suspects: set[str] = set()  # steps running when a worker died
        self.live: Live | None = None  # outputs in memory (sequential runs)
        self._upstream: dict[str, list[str]] = {}
        self.entries: dict[str, dict[str, Any]] = {}  # ok steps whose outputs are being written
        self.written: list[tuple[str, int]] = []  # artifacts workers added to the store
        # Steps to look at in the next pass (their upstream changed), steps ready but held
        # back (no free job): a pass costs what changed, not the whole DAG.
        self._check: set[str] = set()
        self._held: set[str] = set()
        self._dependents: dict[str, list[str]] = {}
        self._index: dict[str, int] = {}

    def step_of(self, name: str) -> Step:
        return self.by_name[name]

    def _deps(self, step: Step) -> list[str]:
        """The selected steps ``step`` waits for (computed once)."""
        deps = self._upstream.get(step.name)
        if deps is None:
            deps = self._upstream[step.name] = [u for u in step.upstream if u in self.selected]
        return deps

    # -- cache --------------------------------------------------------------------------

    def _inputs(self, step: Step) -> dict[str, ArtifactRef]:
        return {var: self.refs[prod][var] for var, prod in step.inputs.items()}

    def _key(self, step: Step, inputs: dict[str, ArtifactRef]) -> tuple[str, dict[str, Any]]:
        if step.name not in self.keys:
            comps = key_components(self.p.name, step, self.ctx, self.values, inputs, self.secret)
            self.keys[step.name] = (cache_key(comps), comps)
        return self.keys[step.name]

    # -- records ------------------------------------------------------------------------

    def _set(
        self, name: str, status: str, elapsed: float | None = None, note: str = "", **fields: Any
    ) -> None:
        self.state[name] = status
        self._check.update(self._dependents.get(name, ()))
        if status == "pending":
            self._check.add(name)
        rec = self.record.step(name)
        rec["status"] = status
        rec.update({k: v for k, v in fields.items() if v is not None})
        self.record.event(name, status=status, **{k: rec[k] for k in _EVENT if k in rec})
        self.reporter.update(name, status, elapsed, note)

    def _skip_after_failure(self, name: str, bad: str) -> None:
        self._set(
            name,
            "skipped",
            note=f"{bad} {self.state[bad]}",
            reason=f"upstream {bad} {self.state[bad]}",
        )

    # -- loop ---------------------------------------------------------------------------

    def _submit(
        self,
        step: Step,
        inputs: dict[str, ArtifactRef],
        key: str,
        comps: dict[str, Any],
        running: dict[Future[Any], str],
        alone: bool = False,
    ) -> None:
        """``alone``: no other step can run meanwhile."""
        latest = self.store.latest_entry(self.p.name, step.name)
        reason = "--force" if self.force else explain((latest or {}).get("components"), comps)
        previous = valid_refs(self.store, step, latest) or {}
        handoff = None
        if self.live is not None:
            handoff = self.live.handoff(step, self._durable)
            handoff.alone = alone
            try:
                inputs = {
                    var: ref if var in handoff.values else self._durable(step.inputs[var], var)
                    for var, ref in inputs.items()
                }
            except CorruptArtifact as exc:  # an upstream output could not be stored
                self.live.finished(step, None, ran=False)
                self._fail(step.name, StepError("artifact", f"step {step.name!r}: {exc}"), 0, {})
                return
        task = self.plan.task(
            step,
            inputs,
            store_root=self.store.location,
            run_dir=str(self.record.run_dir),
            previous=previous,
        )
        if self.executor is None:
            self.executor = self._new_executor()
        self._set(
            step.name,
            "running",
            note=reason if self.verbose else "",
            cache_key=key,
            reason=reason,
            submitted=iso(time.time()),
        )
        self.record.save()
        try:
            future = self.executor.submit(task, handoff)
        except BrokenExecutor:  # a worker died since the last step finished: new workers
            self.executor.cancel()
            self.executor = self._new_executor()
            future = self.executor.submit(task, handoff)
        running[future] = step.name

    def _new_executor(self) -> StepExecutor:
        return self.plan.executor(ExecutorContext(self.jobs, self.store, self.record, self.plan))

    def _schedule(self, running: dict[Future[Any], str]) -> None:
        self._check |= self._held
        self._held = set()
        while self._check:
            names = sorted(self._check, key=self._index.__getitem__)
            self._check = set()
            for index, name in enumerate(names):
                if self.state[name] != "pending":
                    continue
                step = self.step_of(name)
                deps = self._deps(step)
                bad = next((u for u in deps if self.state[u] in _BAD), None)
                if bad is not None:
                    self._skip_after_failure(name, bad)
                    if self.live is not None:
                        self.live.finished(step, None, ran=False)
                    continue
                if any(self.state[u] not in ("ok", "cached") for u in deps):
                    continue
                inputs = self._inputs(step)
                key, comps = self._key(step, inputs)
                entry = None if self.force else self.store.get_entry(self.p.name, name, key)
                refs = valid_refs(self.store, step, entry) if entry else None
                if refs is not None and entry is not None:
                    self.refs[name] = refs
                    if self.live is not None:
                        self.live.finished(step, None, ran=False)
                    metrics = entry.get("metrics") or {}
                    self.metrics.update(metrics)
                    now = iso(time.time())
                    self._set(
                        name,
                        "cached",
                        0.0,
                        start=now,
                        end=now,
                        duration=0.0,
                        cache_key=key,
                        cached_from=entry.get("run_id"),
                        inputs=self._input_record(step, inputs) if self.live is None else None,
                        outputs={k: r.to_json() for k, r in refs.items()},
                        metrics=metrics,
                    )
                    continue
                if (
                    len(running) >= self.jobs
                    or any(n in self.suspects for n in running.values())  # it runs alone
                    or (name in self.suspects and running)
                ):
                    self._held.add(name)
                    continue
                # alone: nothing runs and no other step of this pass could start
                alone = (
                    not running
                    and name not in self.suspects
                    and not any(self._ready(n) for n in names[index + 1 :])
                )
                self._submit(step, inputs, key, comps, running, alone)

    def _ready(self, name: str) -> bool:
        """Could ``name`` start now (pending, every step it waits for done)?"""
        return self.state[name] == "pending" and all(
            self.state[u] in ("ok", "cached") for u in self._deps(self.step_of(name))
        )

    def _input_record(self, step: Step, inputs: dict[str, ArtifactRef]) -> dict[str, Any]:
        return {v: {"step": step.inputs[v], **r.to_json()} for v, r in inputs.items()}

    def _finish(self, name: str, future: Future[Any], crowd: int = 1) -> None:
        """``crowd``: how many steps were running when this one ended."""
        step = self.step_of(name)
        try:
            outcome: StepOutcome = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. BrokenProcessPool: a worker died
            if self.executor is not None and self.executor.broken:
                self.executor.cancel()  # (an executor made since then is left alone)
                self.executor = None
            if crowd > 1 and name not in self.suspects:
                # The pool broke under several steps: run each of them again, alone, to
                # find the one that kills its worker (segfault, os._exit, out of memory).
                self.suspects.add(name)
                self.keys.pop(name, None)
                self._set(name, "pending", note="worker died: running it again, alone")
                return
            now = time.time()
            outcome = StepOutcome(name, "failed", now, now)
            outcome.error = StepError(
                "crash",
                f"step {name!r}: its worker process died ({type(exc).__name__}: {exc}); "
                "a crash of a library, os._exit() or running out of memory can do this",
            )
        duration = outcome.end - outcome.start
        fields: dict[str, Any] = {
            "start": iso(outcome.start),
            "end": iso(outcome.end),
            "duration": round(duration, 6),
            "pid": outcome.pid or None,
            "log": f"logs/{name}.log",
            "figures": outcome.figures,
            "warnings": [redact(w, self.redact) for w in outcome.warnings],
            "notes": [redact(n, self.redact) for n in outcome.notes],
            "timings": {k: round(v, 6) for k, v in outcome.timings.items()},
        }
        for w in fields["warnings"]:
            self.reporter.info(f"warning: {w}")
        self.written += outcome.written  # by a worker (empty for a step run here)
        if outcome.status == "ok":
            self.refs[name] = {
                **{v: ArtifactRef("", "", 0, c) for v, c in outcome.contents.items()},
                **outcome.outputs,
            }  # outputs being written stand in by their value's digest until they are
            self.metrics.update(outcome.metrics)
            self.entries[name] = {
                "metrics": outcome.metrics,
                "run_id": self.record.data["run_id"],
                "created": iso(outcome.end),
                "duration": duration,
            }
            if self.live is not None:
                self.live.finished(step, outcome)
            self._set(name, "ok", duration, **fields, metrics=outcome.metrics)
            if self.live is None or name not in self.live.pending:
                self._commit(name, {})
        else:
            if self.live is not None:
                self.live.finished(step, None)
            err = outcome.error
            assert err is not None
            self._fail(name, err, duration, fields)
        self.record.save()

    def _fail(self, name: str, err: StepError, duration: float, fields: dict[str, Any]) -> None:
        message = redact(err.message, self.redact)
        self.errors.append(message)
        error = {
            "kind": err.kind,
            "message": message,
            "type": err.exc_type,
            "cell": err.cell,
            "line": err.line,
        }
        status = err.kind if err.kind in STOPPED else "failed"
        self._set(name, status, duration, **fields, error=error)
        if err.kind == "interrupted":
            raise KeyboardInterrupt
        self.reporter.error(message)
        if self.verbose and err.traceback:
            self.reporter.info(redact(err.traceback.rstrip(), self.redact))

    # -- outputs written in the background ----------------------------------------------

    def _commit(self, name: str, written: dict[str, ArtifactRef]) -> None:
        """Every output of ``name`` is durable: write its cache entry (never before, so a
        killed run leaves no entry pointing to a missing artifact)."""
        self.refs[name].update(written)
        key, comps = self.keys[name]
        outputs = {k: r.to_json() for k, r in self.refs[name].items()}
        entry = {"outputs": outputs, **self.entries.pop(name), "components": comps}
        self.store.put_entry(self.p.name, name, key, entry)
        self.record.step(name)["outputs"] = outputs

    def _collect(self, wait_for: str | None = None) -> None:
        """Commit the steps whose background writes are done (``wait_for``: wait for
        that step's first)."""
        if self.live is None:
            return
        if wait_for is not None:
            self.live.wait(wait_for)
        for name in self.live.ready():
            refs, exc = self.live.take(name)
            if exc is None:
                self._commit(name, refs)
                continue
            self.entries.pop(name, None)
            why = " ".join(str(exc).split()) or type(exc).__name__
            if isinstance(exc, ValueChanged):
                why += " (a later step changed it in place); the next run recomputes the step"
            elif isinstance(exc, KeyboardInterrupt):
                why = "the run was interrupted before it was written"
            err = StepError(
                "outputs",
                f"step {name!r}: an output could not be stored: {why}",
                type(exc).__name__,
            )
            rec = self.record.step(name)
            self._fail(name, err, float(rec.get("duration") or 0.0), {})

    def _durable(self, step: str, var: str) -> ArtifactRef:
        """The stored ref of an output, once it is written."""
        if self.live is not None and step in self.live.pending:
            self._collect(wait_for=step)
        ref = self.refs[step][var]
        if not ref.hash:
            raise CorruptArtifact(
                f"output {var!r} of step {step!r} could not be stored",
                path="",
                expected="",
                actual=None,
            )
        return ref

    def _close_live(self, cancel: bool = False) -> None:
        if self.live is None:
            return
        try:
            self.live.close(cancel=cancel)
        finally:
            self._collect()
            self.record.data["storage"] = self._storage()

    def _storage(self) -> dict[str, Any]:
        """Bytes of this run's outputs (each artifact once) and bytes it added to the store."""
        refs = {r.hash: r.size for rs in self.refs.values() for r in rs.values() if r.hash}
        added = dict(self.store.written + self.written)
        return {
            "artifacts": len(refs),
            "bytes": sum(refs.values()),
            "written": sum(added.values()),
            "waited": round(self.live.writer.waited, 6) if self.live is not None else 0.0,
        }

    def _input_records(self) -> None:
        for name, state in self.state.items():
            if state in ("ok", "cached", *_BAD) and "start" in self.record.step(name):
                step = self.step_of(name)
                refs = {v: self.refs.get(p, {}).get(v) for v, p in step.inputs.items()}
                if all(r is not None and r.hash for r in refs.values()):
                    self.record.step(name)["inputs"] = self._input_record(step, refs)  # type: ignore[arg-type]

    def run(self, providers: dict[str, Provided]) -> str:
        order = [s.name for s in self.p.steps if s.name in self.selected]
        shown = [s.name for s in self.p.steps if s.name in self.selected or s.name in providers]
        self.reporter.start(shown)
        self._provided(providers)
        self._queue(order)
        self.record.save(force=True)
        running: dict[Future[Any], str] = {}
        try:
            self._loop(running)
            for name in order:
                if self.state[name] == "pending":  # pragma: no cover - defensive
                    self._set(name, "skipped", reason="not reachable")
            self._close_live()  # the run ends when every artifact is durable
            status = "failed" if self.errors else "ok"
        except KeyboardInterrupt:
            status = "interrupted"
            self._interrupted(running, order)
        finally:
            if self.executor is not None:
                self.executor.shutdown()
            if self.live is not None:  # (after an unexpected error: no more entries)
                self.live.close(cancel=True)
            self._input_records()
            self.record.data.setdefault("storage", self._storage())
        return status

    def _provided(self, providers: dict[str, Provided]) -> None:
        """Steps outside the selection: cached from the run that provides their outputs,
        or skipped."""
        for s in self.p.steps:
            if s.name in providers:
                got = providers[s.name]
                self.refs[s.name] = got.refs
                note = f"not selected: outputs of run {got.run_id}" + (
                    "" if got.exact else ", stale"
                )
                self._set(
                    s.name,
                    "cached",
                    0.0,
                    note=note,
                    reason=note,
                    cached_from=got.run_id,
                    stale=not got.exact,
                    outputs={k: r.to_json() for k, r in got.refs.items()},
                )
            elif s.name not in self.selected:
                self.state[s.name] = "skipped"
                self.record.step(s.name).update(status="skipped", reason="not selected")

    def _queue(self, order: list[str]) -> None:
        """The selected steps pending, their dependents known; the in-memory handover when
        the executor runs steps in this process."""
        for i, name in enumerate(order):
            self.state[name] = "pending"
            self.record.step(name)["status"] = "pending"
            self._index[name] = i
            for up in self._deps(self.step_of(name)):
                self._dependents.setdefault(up, []).append(name)
        self._check = set(order)
        if self.plan.executor.in_memory:  # outputs handed over in memory
            steps = [self.step_of(n) for n in order]
            config = self.plan.config
            self.live = Live(
                self.store, steps, guard=config.guard, allow_mutation=config.allow_mutation
            )

    def _loop(self, running: dict[Future[Any], str]) -> None:
        while True:
            self._schedule(running)
            if not running:
                return
            with signals.deferred():  # a signal raised within wait() leaves locks held
                done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            crowd = len(running)
            for future in done:
                self._finish(running.pop(future), future, crowd)
            self._collect()
            self.record.flush()

    def _interrupted(self, running: dict[Future[Any], str], order: list[str]) -> None:
        """Ctrl-C or a signal: running steps failed as interrupted, the rest skipped, the
        workers stopped, pending writes discarded whole."""
        if signals.received():
            self.record.data["signal"] = signals.received()
        now = iso(time.time())
        for name in running.values():
            if self.state.get(name) == "running":
                self._set(
                    name,
                    "failed",
                    end=now,
                    error={"kind": "interrupted", "message": f"step {name!r} was interrupted"},
                )
        for name in order:
            if self.state[name] in ("pending", "running"):
                self._set(name, "skipped", reason="interrupted")
        if self.executor is not None and not self.executor.in_process:
            self.executor.cancel()
            self.executor = None
        self._close_live(cancel=True)
