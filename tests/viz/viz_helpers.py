"""Helpers of the viz tests: small notebooks (tests/notebooks.py), a hand-written hostile
run folder, the nb2pipe command. Imported by name from tests/viz (its module name is unique
across the test folders, which have no __init__.py)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from notebooks import write_notebook


def notebook_demo(path: Path) -> Path:
    """make_data -> plot (a figure, a hostile log line) ; a gate on make_data; summarise ->
    check_summarise (fails when limit is small) -> finish."""
    return write_notebook(
        path,
        [
            ("md", "# Viz demo"),
            ("imports", "import matplotlib.pyplot as plt"),
            ("parameters", "n = 20  # number of points\nlimit = 1000000000  # gate threshold"),
            ("md", "Make the data."),
            ("step:make_data", "xs = list(range(n))\nys = [x * x for x in xs]"),
            ("validate", "assert len(xs) == n"),
            (
                "step:plot",
                "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(xs, ys)\n"
                "print('<script>alert(1)</script> & </pre> done')",
            ),
            ("step:summarise", "total = sum(ys)"),
            ("metrics", "total"),
            ("validate", "assert total < limit, 'total too large'"),
            ("step:finish", "final = total * 2\nprint('final', final)"),
        ],
    )


def notebook_flow(path: Path) -> Path:
    """No headings, no step tags: steps come from the data flow."""
    return write_notebook(
        path,
        [
            ("", "import json"),
            ("parameters", "seed = 3"),
            ("", "raw = [seed, 1, 2, 3]"),
            ("", "raw.sort()"),
            ("", "print(raw)"),
            ("", "pairs = [(a, b) for a, b in zip(raw, raw[1:])]"),
            ("", "score = sum(a * b for a, b in pairs)\nprint(json.dumps(score))"),
        ],
    )


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


HOSTILE = "<script>alert('x')</script></pre><img src=http://evil.example/x.png>"


def fake_run(root: Path, run_id: str = "20250101-000000-000-aaaa") -> Path:
    """A run folder written by hand: every string in it is hostile or a path trick."""
    d = root / "runs" / run_id
    (d / "logs").mkdir(parents=True)
    (d / "figures").mkdir()
    (d / "figures" / "plot-1.png").write_bytes(png())
    (d / "figures" / "fake.png").write_bytes(b"GIF89a not a png")
    (d / "figures" / "extra.png").write_bytes(png(3, 1))
    (root / "secret.png").write_bytes(png())
    lines = [f"line {k}" for k in range(200)] + ["\x1b[31mred\x1b[0m " + HOSTILE]
    (d / "logs" / "plot.log").write_text("\n".join(lines) + "\n")
    steps = {
        "load": {"status": "ok", "duration": 1.25, "log": "logs/load.log", "figures": [],
                 "inputs": {}, "metrics": {}},
        "plot": {"status": "ok", "duration": 0.5, "log": "logs/plot.log",
                 "figures": ["figures/plot-1.png", "figures/fake.png", "../../secret.png", 7],
                 "inputs": {"df": {"step": "load"}}, "warnings": [HOSTILE]},
        "check_plot": {"status": "failed", "duration": 0.1, "log": "../../../etc/passwd",
                       "error": {"kind": "gate", "message": HOSTILE}, "inputs": {"df": {"step": "load"}}},
        HOSTILE: {"status": "skipped", "reason": HOSTILE},
    }  # fmt: skip
    record = {
        "schema": 1, "run_id": run_id, "pipeline": "evil", "package": "../../evil", "status": "failed",
        "start": "2025-01-01T00:00:00+00:00", "duration": 2.0, "command": ["x", HOSTILE],
        "parameters": {"note": HOSTILE, "n": 3}, "secret_parameters": ["token"], "derived": {},
        "versions": {"python": "3.11", "distributions": {"numpy": "2"}},
        "steps": steps, "metrics": {"acc": 0.5, HOSTILE: HOSTILE}, "error": HOSTILE,
    }  # fmt: skip
    (d / "run.json").write_text(json.dumps(record))
    return d


def nb2pipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("nb2pipe")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nb2pipe.frontends.cli"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env()
    )


def env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    return env
