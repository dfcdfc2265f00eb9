"""Where a step's inputs come from when the step that makes them is not part of the run
(``--only/--from/--until``), and which stored results are whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nb2pipe.runtime.cache import KeyContext, cache_key, key_components
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.spec import Pipeline, Step
from nb2pipe.runtime.store import ArtifactRef, Store


@dataclass
class Provided:
    refs: dict[str, ArtifactRef]
    run_id: str | None
    exact: bool


def valid_refs(
    store: Store, step: Step, entry: dict[str, Any] | None
) -> dict[str, ArtifactRef] | None:
    """The output refs of a cache entry, if it is well formed and its artifacts exist."""
    if not entry or not isinstance(entry.get("outputs"), dict):
        return None
    try:
        refs = {k: ArtifactRef.from_json(v) for k, v in entry["outputs"].items()}
    except (KeyError, TypeError, ValueError):
        return None
    if any(o not in refs or not store.exists(refs[o]) for o in step.outputs):
        return None
    return refs


def resolve_providers(
    pipeline: Pipeline,
    selected: set[str],
    store: Store,
    ctx: KeyContext,
    values: dict[str, Any],
    secret: frozenset[str],
) -> dict[str, Provided]:
    """Steps outside the selection whose outputs a selected step reads: the cache entry
    matching the current code and parameters, else the step's latest result (stale).
    Raises UsageError, before anything runs, when there is neither."""
    by_name = {s.name: s for s in pipeline.steps}
    memo: dict[str, Provided | None] = {}

    def resolve(name: str) -> Provided | None:
        if name in memo:
            return memo[name]
        memo[name] = None
        step = by_name[name]
        inputs: dict[str, ArtifactRef] | None = {}
        exact = True
        for var, prod in step.inputs.items():
            up = resolve(prod)
            if up is None or var not in up.refs or inputs is None:
                inputs = None
                break
            inputs[var] = up.refs[var]
            exact = exact and up.exact
        found: Provided | None = None
        if inputs is not None:
            comps = key_components(pipeline.name, step, ctx, values, inputs, secret)
            entry = store.get_entry(pipeline.name, name, cache_key(comps))
            refs = valid_refs(store, step, entry)
            if refs is not None and entry is not None:
                found = Provided(refs, entry.get("run_id"), exact)
        if found is None:
            latest = store.latest_entry(pipeline.name, name)
            refs = valid_refs(store, step, latest)
            if refs is not None and latest is not None:
                found = Provided(refs, latest.get("run_id"), False)
        memo[name] = found
        return found

    provided: dict[str, Provided] = {}
    for step in pipeline.steps:
        if step.name not in selected:
            continue
        for var, prod in step.inputs.items():
            if prod in selected or prod in provided:
                continue
            found = resolve(prod)
            if found is None or var not in found.refs:
                raise UsageError(
                    f"step {step.name!r} needs {var!r} from step {prod!r}, which is not part "
                    f"of this run and has no stored result: run it first (--until {prod}) "
                    "or widen --only/--from"
                )
            provided[prod] = found
    return provided
