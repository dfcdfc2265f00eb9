"""The champion policy: does a newly registered model become the champion?

``--promote if-better`` (the default) moves the ``champion`` alias to the run's version
when its primary metric is not worse than the champion's (in the metric's direction; a tie
promotes); ``always`` moves it whenever the run passed its gates; ``never`` registers the
version and leaves the alias alone (promote it later with ``nb2pipe models promote``).
The first version of a model becomes champion under ``if-better`` and ``always``.

The primary metric is the one marked ``# primary`` in the notebook's ``metrics`` cell
(``accuracy  # higher, primary``), else the first metric the pipeline declares. The
decision is recorded in the version (``promotion``) and in ``run.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.metrics import HIGHER, default_direction

POLICIES = ("if-better", "always", "never")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise UsageError(f"--promote {policy!r}: use {', '.join(POLICIES)}")
    return policy


def primary_metric(pipeline: Any, metrics: Mapping[str, Any]) -> str:
    """The metric marked ``# primary``, else the pipeline's first recorded metric."""
    declared = [m for s in getattr(pipeline, "steps", ()) for m in s.metrics]
    for step in getattr(pipeline, "steps", ()):
        marked = getattr(step, "primary", "")
        if marked:
            return str(marked)
    for m in declared:
        if m in metrics:
            return m
    return next(iter(metrics), "")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def decide(registry: Any, candidate: Any, policy: str) -> dict[str, Any]:
    """What the policy does with ``candidate``: ``{"policy", "metric", "direction",
    "value", "champion_before", "champion_value", "decision" (promoted | kept), "reason"}``."""
    meta = candidate.meta
    metric = meta.primary
    direction = meta.directions.get(metric) or default_direction(metric)
    out: dict[str, Any] = {
        "policy": policy,
        "metric": metric,
        "direction": direction,
        "value": meta.metrics.get(metric),
        "champion_before": None,
        "champion_value": None,
    }
    try:
        number = registry.alias_version(meta.name)
    except Exception:  # noqa: BLE001 - no such model yet (each backend says it its way)
        number = None
    if number is not None:
        champion = registry.get(meta.name, number)
        out["champion_before"] = number
        out["champion_value"] = champion.metrics.get(metric)
    if policy == "never":
        return {**out, "decision": "kept", "reason": "--promote never"}
    if number is None:
        return {**out, "decision": "promoted", "reason": "first version"}
    if policy == "always":
        return {**out, "decision": "promoted", "reason": "--promote always"}
    now, before = _number(out["value"]), _number(out["champion_value"])
    if now is None:
        return {**out, "decision": "kept", "reason": f"this run has no number for {metric!r}"}
    if before is None:
        return {**out, "decision": "promoted", "reason": f"the champion has no {metric!r}"}
    better = now >= before if direction == HIGHER else now <= before
    sign = (">=" if better else "<") if direction == HIGHER else ("<=" if better else ">")
    reason = f"{metric} {now:.6g} {sign} {before:.6g}, {direction} is better"
    return {**out, "decision": "promoted" if better else "kept", "reason": reason}


def message(label: str, new: bool, d: Mapping[str, Any]) -> str:
    """One line saying what happened to the version and to the champion alias."""
    name = label.partition(":")[0]
    what = f"model {label} " + ("registered" if new else "unchanged (same artifact)")
    before, after = d.get("champion_before"), d.get("champion_after")
    why = f" ({d['reason']}; --promote {d['policy']})"
    if str(d.get("reason", "")).startswith("--promote"):
        why = f" ({d['reason']})"
    if d["decision"] == "already champion":
        return f"{what}; champion stays {name}:{after}"
    if before == after:
        now = f"{name}:{after}" if after is not None else "unset"
        return f"{what}; champion stays {now}{why}"
    if before is None:
        return f"{what}; champion -> {name}:{after}{why}"
    return f"{what}; champion {name}:{before} -> {name}:{after}{why}"
