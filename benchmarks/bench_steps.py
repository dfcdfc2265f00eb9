"""Run time against the number of steps: it must grow linearly, not quadratically.

Generates the trivial pipeline of bench_runtime.py (each step adds one to its upstream's
output; every fifth also reads the step five before) at 10, 100 and 300 steps and measures,
each as a whole process, best of R:

- baseline: the same step functions called in a plain Python loop (``python baseline.py``);
- ``python -m <package>`` cold (empty store), as a user runs it (supervisor included).

It prints the runner's overhead per step at each size ((run - baseline) / steps) and the
marginal cost of a step between sizes ((t300 - t100) / 200 against (t100 - t10) / 90): with
a record rewritten in full after each step the marginal cost grows with the step count
(ratio well above 1); linear growth keeps it near 1.

Usage: ``python benchmarks/bench_steps.py [--sizes 10,100,300] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_runtime import PKG, write_package  # noqa: E402


def best(cmd: list[str], cwd: Path, env: dict[str, str], repeat: int, runs: Path | None) -> float:
    times = []
    for i in range(repeat):
        extra = ["--runs-dir", str(runs / str(i)), "-q"] if runs else []
        t = time.perf_counter()
        subprocess.run([*cmd, *extra], cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times)


def measure(root: Path, n: int, repeat: int) -> tuple[float, float]:
    folder = root / f"n{n}"
    folder.mkdir()
    write_package(folder, n)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])}
    base = best([sys.executable, "baseline.py"], folder, env, repeat, None)
    run = best([sys.executable, "-m", PKG], folder, env, repeat, folder / "runs")
    return base, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100,300")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    root = Path(tempfile.mkdtemp(prefix="nb2pipe-bench-steps-"))
    print(f"nb2pipe bench_steps: Python {sys.version.split()[0]}, best of {args.repeat}")
    try:
        results = {n: measure(root, n, args.repeat) for n in sizes}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"  {'steps':>5}  {'baseline':>9}  {'run':>9}  {'overhead/step':>13}")
    for n, (base, run) in results.items():
        print(f"  {n:5d}  {base:8.3f}s  {run:8.3f}s  {(run - base) / n * 1000:10.2f} ms")
    marginal = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        cost = (results[b][1] - results[a][1]) / (b - a) * 1000
        marginal.append(cost)
        print(f"  marginal cost of a step, {a} -> {b} steps: {cost:.2f} ms")
    if len(marginal) >= 2:
        print(
            f"  ratio of marginal costs (last / first): {marginal[-1] / marginal[0]:.2f} "
            "(~1 = linear; quadratic growth makes it rise with the step count)"
        )
    first, last = sizes[0], sizes[-1]
    over = [(results[n][1] - results[n][0]) / n for n in (first, last)]
    print(f"  overhead per step at {last} / at {first} steps: {over[1] / over[0]:.2f}")


if __name__ == "__main__":
    main()
