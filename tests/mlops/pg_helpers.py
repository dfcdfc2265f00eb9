"""A real PostgreSQL server for the prediction log's tests, from Debian's binaries
(``/usr/lib/postgresql/<version>/bin``; ``make postgresql`` installs them as root), in a
temporary folder on a free loopback port, stopped and removed afterwards. Run as root (CI),
the server runs as the ``postgres`` user the package creates, since PostgreSQL refuses
root. Skipped, saying how to enable it, only where the binaries are not installed."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import free_port

HOW = (
    "PostgreSQL's server is not installed: run `make postgresql` as root (Debian's "
    "`apt-get install postgresql`) to run the PostgreSQL prediction-log tests"
)


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    return found[-1].parent if found else None


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A running server; yields its URL (user nb2pipe, database postgres, trust auth on
    127.0.0.1 only)."""
    bindir = pg_bin()
    if bindir is None:
        pytest.skip(HOW)
    folder = Path(tempfile.mkdtemp(prefix="nb2pipe-pg-"))  # reachable by the server's user
    owner: dict[str, int] = {}
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip(HOW + " (no postgres user to run it as)")
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        owner = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    data, port = folder / "data", free_port()

    def run(*cmd: str) -> None:
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=120, **owner)  # type: ignore[call-overload]
        assert done.returncode == 0, f"{' '.join(cmd[:2])}: {done.stdout}{done.stderr}"

    ctl = str(bindir / "pg_ctl")
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "nb2pipe", "--auth=trust",
            "-E", "UTF8", "--no-sync")  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        run(ctl, "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w",
            "-t", "60", "start")  # fmt: skip
        try:
            yield f"postgresql://nb2pipe@127.0.0.1:{port}/postgres"
        finally:
            run(ctl, "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
