"""The tests' one wheel builder: nb2pipe and nb2pipe-runtime built from a copy of this
checkout (setuptools leaves build/ and *.egg-info beside the sources it builds, and a
stray nb2pipe/runtime/build would end up in the KFP bundle), offline (--no-index, no
build isolation) and without this machine's pip config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".*", "__pycache__", "build", "*.egg-info", "node_modules", "pipelines", "runs", "lib"
)


def build_wheels(tmp: Path, *, runtime_only: bool = False) -> subprocess.CompletedProcess[str]:
    """Wheels in ``tmp / "wheels"``: nb2pipe-runtime, and nb2pipe unless ``runtime_only``.
    The finished pip process is returned for its return code and output."""
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=SKIP)
    projects = [src / "nb2pipe" / "runtime"] + ([] if runtime_only else [src])
    return subprocess.run(
        [sys.executable, "-m", "pip", "--isolated", "wheel", "--no-deps", "--no-index",
         "--no-build-isolation", "-w", str(tmp / "wheels"), *map(str, projects)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
