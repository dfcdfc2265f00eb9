"""The global random streams, carried from step to step as the notebook continues them.

A notebook seeds ``numpy.random`` (or ``random``) once and every later cell draws from
where the previous one stopped. The compiler finds the steps that draw from a seeded
stream and chains them in notebook order: the state leaving one is an artifact,
``__random_state__``, read by the next (an ordinary input and output in ``pipeline.py``,
so the store, the cache key, ``--only``/``--from``, workers and exporters carry it). The
step functions never see it: :func:`enter` sets the streams before the call and
:func:`leave` adds their state to the outputs. A step outside the chain is checked
instead: if it moved a seeded stream, the notebook would have drawn other numbers, and
the run says so.

The state is plain JSON (lists of ints), so its hash is stable across runs and
processes.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from typing import Any

RANDOM_STATE = "__random_state__"
STREAMS = ("random", "numpy")  # python's `random`, numpy's legacy global RandomState


def _numpy(load: bool) -> Any:
    if "numpy" in sys.modules:
        return sys.modules["numpy"]
    if not load:
        return None
    try:
        import numpy
    except ImportError:  # pragma: no cover - a state with numpy's part implies numpy
        return None
    return numpy


def capture(streams: tuple[str, ...] | list[str], *, load: bool = True) -> dict[str, Any]:
    """The state of the given streams, as JSON-compatible lists. ``load``: import numpy
    when it is not loaded yet (else leave its part out)."""
    state: dict[str, Any] = {}
    if "random" in streams:
        version, internal, gauss = random.getstate()
        state["random"] = [version, list(internal), gauss]
    np = _numpy(load) if "numpy" in streams else None
    if np is not None:
        name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
        state["numpy"] = [name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]
    return state


def restore(state: dict[str, Any]) -> None:
    """Set the streams a captured state names."""
    if "random" in state:
        version, internal, gauss = state["random"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        np = _numpy(True)
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


@dataclass
class Entry:
    """What :func:`enter` learned, for :func:`leave`."""

    step: Any  # spec.Step
    before: dict[str, Any] = field(default_factory=dict)


def enter(step: Any, loaded: dict[str, Any]) -> Entry | None:
    """Before the step function runs: take the carried state out of its inputs and set
    the streams from it (a step of the chain), or note the streams' state (a step that
    must leave them alone)."""
    incoming = loaded.pop(RANDOM_STATE, None)
    chain = tuple(getattr(step, "random", ()) or ())
    guarded = tuple(getattr(step, "random_guard", ()) or ())
    if chain:
        if isinstance(incoming, dict):
            restore(incoming)
        return Entry(step)
    if guarded:
        return Entry(step, capture(guarded, load=False))
    return None


def leave(entry: Entry | None, result: Any, warnings: list[str]) -> None:
    """After the step function returned: add the streams' state to its outputs (a step
    of the chain), or warn if it moved a seeded stream it was not expected to touch."""
    if entry is None or not isinstance(result, dict):
        return
    step = entry.step
    chain = tuple(getattr(step, "random", ()) or ())
    if chain:
        if RANDOM_STATE in step.outputs:
            result[RANDOM_STATE] = capture(chain)
        return
    after = capture(tuple(entry.before), load=False)
    moved = [s for s in entry.before if s in after and after[s] != entry.before[s]]
    if moved:
        names = " and ".join("numpy.random" if s == "numpy" else s for s in moved)
        warnings.append(
            f"step {step.name!r} drew from the global random stream ({names}) that the "
            "notebook seeds, although nb2pipe found no draw in it: the notebook continues "
            "that stream here, so its numbers may differ from this run's (pass random_state= "
            "or a seeded generator to the call that draws)"
        )
