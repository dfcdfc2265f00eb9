"""SIGTERM and SIGHUP handled like Ctrl-C (SIGINT) while a run is in progress.

CI cancellation, Airflow, Kubernetes, systemd and ``timeout`` send SIGTERM; closing a
terminal sends SIGHUP. During :func:`handling` the first of SIGINT, SIGTERM or SIGHUP
raises :class:`Interrupted` (a ``KeyboardInterrupt``) in the main thread: the running step
stops, workers are terminated, pending artifact writes finish or are dropped whole, and
the run is recorded ``interrupted`` with the signal's name; the exit code is 128 +
the signal's number. A second signal kills at once: the whole process group when this
process leads one (the supervised run, see :mod:`.supervise`: workers and their
subprocesses too), else this process.

An exception raised at an arbitrary point of the main thread can leave a lock of
:mod:`threading` or :mod:`concurrent.futures` held (``wait()`` acquires its futures' locks
one by one), and a worker thread then blocks on it forever. Code that waits on futures or
forks runs :func:`deferred`: a signal received inside is raised as it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

from nb2pipe.runtime.errors import EXIT_INTERRUPTED

SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
_received: list[int] = []
_deferring: list[bool] = []  # one entry per open deferred() section
_pending: list[int] = []  # received while deferred, not raised yet


class Interrupted(KeyboardInterrupt):
    """A run was stopped by a signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum: int, frame: object) -> None:
    if _received:
        kill_now(signum)
    _received.append(signum)
    if _deferring:
        _pending.append(signum)
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A section of the main thread that a signal must not cut: the signal is raised
    when the outermost section ends. Other threads never get the signal: for them it is
    no section."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
        if not _deferring and _pending:
            raise Interrupted(_pending.pop())


def kill_now(signum: int) -> None:
    """Die at once: the process group (workers, their subprocesses) when this process
    leads it, else this process alone."""
    try:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    except OSError:
        pass
    os._exit(128 + signum)


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """Install the handlers (main thread only; elsewhere signals are left as they are)."""
    _received.clear()
    _pending.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in saved.items():
            signal.signal(s, old)


def received() -> str | None:
    """The name of the signal that interrupted the run, if one did."""
    return signal.Signals(_received[0]).name if _received else None


def exit_code() -> int:
    """128 + the signal that interrupted the run (130, Ctrl-C's, when none is known)."""
    return 128 + _received[0] if _received else EXIT_INTERRUPTED
