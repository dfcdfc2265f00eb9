"""Send a step's stdout and stderr to its log, at the file-descriptor level, so output of
C extensions and subprocesses is caught too; ``echo`` also copies it to the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

#: bytes of a step's output echoed to the terminal (``-v``); all of it goes to its log
ECHO_CAP = 1 << 20


def _tee(read_fd: int, log_fd: int, out_fd: int, log: Path) -> None:
    """Copy the step's output to its log, streaming (64 KiB at a time, whatever it
    prints), and its first ECHO_CAP bytes to the terminal, then a note of where the rest is."""
    echoed, noted = 0, False
    while chunk := os.read(read_fd, 65536):
        os.write(log_fd, chunk)
        part = chunk[: max(ECHO_CAP - echoed, 0)]
        echoed += len(part)
        if len(part) < len(chunk) and not noted:
            noted = True
            part += f"\n[nb2pipe] output cut after {ECHO_CAP >> 20} MiB: the rest is in {log}\n".encode()
        if part:
            with contextlib.suppress(OSError):
                os.write(out_fd, part)
    os.close(read_fd)


@contextlib.contextmanager
def capture_output(log: Path, *, echo: bool = False) -> Iterator[None]:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        saved = (os.dup(1), os.dup(2))
    except OSError:  # no fd 1/2 (pythonw, some daemons): Python-level capture only
        saved = None
    thread = None
    target = log_fd
    if echo and saved is not None:
        read_fd, target = os.pipe()
        thread = threading.Thread(target=_tee, args=(read_fd, log_fd, saved[0], log), daemon=True)
        thread.start()
    old = sys.stdout, sys.stderr
    text = open(os.dup(target), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        if saved is not None:
            os.dup2(target, 1)
            os.dup2(target, 2)
        sys.stdout = sys.stderr = text
        yield
    finally:
        sys.stdout, sys.stderr = old
        with contextlib.suppress(Exception):
            text.close()
        if saved is not None:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[1])
        if thread is not None:
            os.close(target)  # the last write end of the pipe: the tee thread sees EOF
            thread.join(timeout=5)
        if saved is not None:
            os.close(saved[0])
        os.close(log_fd)
