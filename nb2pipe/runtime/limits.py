"""Limits of one step: time (``--timeout S``, the cell option ``#| nb2pipe: timeout=S``)
and memory (``--max-memory SIZE``).

The time limit is a SIGALRM timer around the step's function, in the thread that calls
it (the main thread, in this process or in a worker): over its limit the step gets
:class:`StepTimeout` at the line it is running and is recorded ``timed_out``. A C call
that never returns to Python is not interrupted (run such a step with ``-j 2`` or under
an orchestrator's limit). The memory limit is ``RLIMIT_AS`` of the worker process that
runs the step (steps run in worker processes when it is set): an allocation over it
raises ``MemoryError`` and the step is recorded ``out_of_memory``, instead of the
kernel's OOM killer ending the whole run.
"""

from __future__ import annotations

import contextlib
import math
import re
import signal
import threading
from collections.abc import Iterator

from nb2pipe.runtime.spec import Step

OPTION = "timeout="  # the cell option, carried in Step.tags
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)


class StepTimeout(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an Exception
    """Raised in a step that went over its time limit (``except Exception`` misses it)."""


def seconds(text: str) -> float:
    """A time limit given as text: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a time limit is a positive number of seconds, got {text!r}")
    return value


def size(text: str) -> int:
    """A memory size: bytes, or a number with K, M, G or T (powers of 1024): ``512M``."""
    m = _SIZE.fullmatch(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"expected a size such as 512M or 2G, got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def step_timeout(step: Step, default: float | None) -> float | None:
    """The step's own ``timeout=S`` cell option, else ``default`` (``--timeout``)."""
    for tag in step.tags:
        if tag.startswith(OPTION):
            with contextlib.suppress(ValueError):
                return seconds(tag[len(OPTION) :])
    return default


@contextlib.contextmanager
def time_limit(limit: float | None) -> Iterator[None]:
    if not limit or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise StepTimeout(limit)

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def memory_limit(limit: int | None) -> Iterator[None]:
    """At most ``limit`` more bytes of address space in this process while it runs."""
    if not limit:
        yield
        return
    import resource

    import psutil

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = psutil.Process().memory_info().vms + limit
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def describe_size(n: int) -> str:
    for unit, factor in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= factor:
            return f"{n / factor:g}{unit}"
    return str(n)
