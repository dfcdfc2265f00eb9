"""The runtime at data scale (issue 12): `nb2pipe run` against the same cells as one script.

Converts ``benchmarks/scale_notebook.py`` (load n rows x 18 columns, add features in
place, train a linear model on 500k rows, score it on the rest) at 1M, 3M and 10M rows
and measures, each in its own process, in pairs run A B A B (figures are medians):

- the notebook's cells as one plain script (wall time and peak RSS);
- ``nb2pipe run`` cold (empty store), with the guard and with ``--no-guard``;
- ``nb2pipe run`` again on the same store (fully cached);
- the store's size after a cold run.

Then ``-j 2`` against ``-j 1`` on a variant whose two training steps are heavy and
independent; the wine sample notebook as ``nb2pipe run`` against its plain script; and the
runner's overhead per trivial step (the 100-step synthetic pipeline of bench_runtime.py).

Targets (issue 12): 3M rows cold <= 1.15x the plain script's wall time and <= 1.3x its
peak memory, cached rerun < 0.5 s, guard <= 5% of the run; ``-j 2`` >= 1.5x over
``-j 1``; wine within 0.15 s of (and <= 1.15x) its plain script; < 2 ms per trivial step.
The machine may be shared: every figure is a median of pairs, and the ratios are the
point. ``--quick``: 1M rows, one pair, for iteration.

Usage: ``python benchmarks/bench_scale.py [--quick] [--sizes 1000000,3000000] [--pairs 2]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "benchmarks" / "scale_notebook.py"
WINE = REPO / "sample_notebooks" / "wine_classifier.ipynb"
NB2PIPE = [str(Path(sys.executable).with_name("nb2pipe"))]  # the console script, as a user runs it
sys.path.insert(0, str(REPO / "benchmarks"))

TRAIN = """# %% tags=["step:train"]
clf = SGDClassifier(random_state=seed, max_iter=5, tol=None)
clf.fit(features.iloc[:500_000], target.iloc[:500_000])
"""
BRANCHES = """# %% tags=["step:train_a"]
clf_a = SGDClassifier(random_state=seed, max_iter=12, tol=None)
clf_a.fit(features.iloc[:n_train], target.iloc[:n_train])

# %% tags=["step:train_b"]
clf_b = SGDClassifier(random_state=seed + 1, max_iter=12, tol=None, loss="log_loss")
clf_b.fit(features.iloc[:n_train], target.iloc[:n_train])
"""
EVALUATE_TWO = """# %% tags=["step:evaluate"]
acc = max(clf_a.score(features.iloc[n_train:], target.iloc[n_train:]),
          clf_b.score(features.iloc[n_train:], target.iloc[n_train:]))
"""


def notebook_text(n_rows: int, branches: bool = False) -> str:
    text = NOTEBOOK.read_text().replace("n_rows = 3_000_000", f"n_rows = {n_rows}")
    if branches:
        text = text.replace(TRAIN, BRANCHES).replace(
            "seed = 0\n", "seed = 0\nn_train = 1_000_000\n"
        )
        start = text.index('# %% tags=["step:evaluate"]')
        end = text.index('# %% tags=["metrics"]')
        text = text[:start] + EVALUATE_TWO + "\n" + text[end:]
    return text


class Proc:
    """One measured process: wall seconds, peak RSS in MB (its own and its children's)."""

    def __init__(self, wall: float, rss_mb: float) -> None:
        self.wall, self.rss = wall, rss_mb


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> Proc:
    with open(cwd / ".bench.out", "wb") as out:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = (cwd / ".bench.out").read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return Proc(wall, usage.ru_maxrss / 1024)


class Workspace:
    """A temporary folder with a notebook, its plain script and its converted package."""

    def __init__(self, root: Path, name: str, text: str | None = None, src: Path | None = None):
        from nb2pipe import api

        self.dir = root / name
        self.dir.mkdir(parents=True)
        if src is not None:
            from bench_runtime import plain_script

            nb = self.dir / src.name
            shutil.copy(src, nb)
            (self.dir / "plain.py").write_text(plain_script(src))
        else:
            nb = self.dir / f"{name}.py"
            nb.write_text(text or "")
            (self.dir / "plain.py").write_text(text or "")
        self.package = self.dir / "pkg"
        api.convert(nb, self.package)
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
        self.count = 0

    def plain(self) -> Proc:
        return measure([sys.executable, "plain.py"], self.dir, self.env)

    def fresh_runs(self) -> Path:
        self.count += 1
        return self.dir / f"runs{self.count}"

    def run(self, runs: Path, *extra: str) -> Proc:
        cmd = [*NB2PIPE, "run", str(self.package), "--runs-dir", str(runs), "-q", *extra]
        return measure(cmd, self.dir, self.env)

    def run_module(self, runs: Path) -> Proc:
        """``python -m pkg``: the package run as its README says."""
        cmd = [sys.executable, "-m", self.package.name, "--runs-dir", str(runs), "-q"]
        return measure(cmd, self.dir, self.env)


def recorded(runs: Path) -> dict[str, float]:
    """What the run's record says it spent: guard, waiting for writes (if recorded)."""
    import json

    rec = json.loads(next(runs.glob("*/run.json")).read_text())
    steps = rec["steps"].values()
    return {
        "duration": float(rec.get("duration") or 0.0),
        "guard": sum(float((s.get("timings") or {}).get("guard", 0.0)) for s in steps),
        "waited": float((rec.get("storage") or {}).get("waited", 0.0)),
    }


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def med(values: list[float]) -> float:
    return statistics.median(values)


def free_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def bench_size(root: Path, n_rows: int, pairs: int) -> dict[str, float]:
    ws = Workspace(root, f"scale{n_rows}", notebook_text(n_rows))
    plain, cold, noguard, cached, sizes, records = [], [], [], [], [], []
    for _ in range(pairs):
        plain.append(ws.plain())
        runs = ws.fresh_runs()
        cold.append(ws.run(runs))
        sizes.append(du(runs / "store"))
        records.append(recorded(runs))
        cached.append(ws.run(runs))
        shutil.rmtree(runs)
        runs = ws.fresh_runs()
        noguard.append(ws.run(runs, "--no-guard"))
        shutil.rmtree(runs)
    p_wall, p_rss = med([p.wall for p in plain]), med([p.rss for p in plain])
    c_wall, c_rss = med([p.wall for p in cold]), med([p.rss for p in cold])
    g_wall = med([p.wall for p in noguard])
    k_wall = med([p.wall for p in cached])
    store = med(sizes) / 2**20
    print(f"\n{n_rows:,} rows ({pairs} pair(s), medians)")
    rows = [
        ("plain script", p_wall, p_rss, ""),
        ("nb2pipe run cold", c_wall, c_rss, f"{c_wall / p_wall:.2f}x wall (target <= 1.15x), "),
        ("nb2pipe run cold --no-guard", g_wall, med([p.rss for p in noguard]), ""),
        ("nb2pipe run fully cached", k_wall, med([p.rss for p in cached]), "target < 0.5 s, "),
    ]
    rows[1] = (*rows[1][:3], rows[1][3] + f"{c_rss / p_rss:.2f}x memory (target <= 1.3x)")
    for label, wall, rss, note in rows:
        print(f"  {label:<30} {wall:8.2f} s  {rss:8.0f} MB  {note}")
    guard = (c_wall - g_wall) / c_wall * 100
    timed = med([r["guard"] / r["duration"] * 100 for r in records if r["duration"]])
    waited = med([r["waited"] for r in records])
    print(
        f"  guard: {guard:+.1f}% of the cold run by --no-guard, {timed:.1f}% as recorded in "
        f"run.json (target <= 5%); steps waited {waited:.2f} s for writes; store: {store:.0f} MB"
    )
    return {"wall": c_wall / p_wall, "rss": c_rss / p_rss, "cached": k_wall}


def bench_parallel(root: Path, n_rows: int, pairs: int) -> None:
    """-j 1 against -j 2 with the default executor (fork: parallel steps in forked
    processes that inherit their inputs) and with spawned workers (--executor process)."""
    ws = Workspace(root, f"branches{n_rows}", notebook_text(n_rows, branches=True))
    variants = {
        "-j 1": ["-j", "1"],
        "-j 2": ["-j", "2"],
        "-j 2 --executor process": ["-j", "2", "--executor", "process"],
    }
    walls: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(pairs):
        for label, args in variants.items():
            runs = ws.fresh_runs()
            walls[label].append(ws.run(runs, *args).wall)
            shutil.rmtree(runs)
    s = med(walls["-j 1"])
    print(f"\ntwo heavy independent branches, {n_rows:,} rows ({pairs} pair(s), medians)")
    print(f"  nb2pipe run -j 1                     {s:8.2f} s")
    for label in list(variants)[1:]:
        p = med(walls[label])
        print(f"  nb2pipe run {label:<24} {p:8.2f} s  {s / p:.2f}x faster (target >= 1.5x)")


def bench_wine(root: Path, pairs: int) -> None:
    ws = Workspace(root, "wine", src=WINE)
    plain, cold, module = [], [], []
    for _ in range(max(3, pairs * 2)):
        plain.append(ws.plain().wall)
        runs = ws.fresh_runs()
        cold.append(ws.run(runs).wall)
        shutil.rmtree(runs)
        runs = ws.fresh_runs()
        module.append(ws.run_module(runs).wall)
        shutil.rmtree(runs)
    p, c, m = med(plain), med(cold), med(module)
    print(f"\nwine notebook ({len(plain)} rounds, medians)")
    print(f"  plain script         {p:8.3f} s")
    print(
        f"  nb2pipe run cold     {c:8.3f} s  {c - p:+.3f} s ({c / p:.2f}x; "
        "target within 0.15 s, <= 1.15x)"
    )
    print(f"  python -m pkg cold   {m:8.3f} s  {m - p:+.3f} s ({m / p:.2f}x)")


def bench_trivial(root: Path, n: int = 100) -> None:
    """Per-step overhead of run() in-process over calling the same functions in a loop."""
    import importlib

    from bench_runtime import PKG, best, write_package

    from nb2pipe.runtime import run

    folder = root / "trivial"
    write_package(folder, n)
    sys.path.insert(0, str(folder))
    pipeline = importlib.import_module(f"{PKG}.pipeline").PIPELINE
    functions = {s.name: pipeline.function(s.name) for s in pipeline.steps}

    def baseline() -> None:
        values: dict[str, int] = {}
        for s in pipeline.steps:
            kwargs = {p: 1 for p in s.params}
            values.update(functions[s.name](**{v: values[v] for v in s.inputs}, **kwargs))

    counter = iter(range(1000))
    runs = [folder / "runs"]

    def fresh() -> None:
        runs[0] = folder / f"runs{next(counter)}"

    base = best(baseline, 9)
    cold = best(lambda: run(pipeline, runs_dir=runs[0], progress="none"), 3, fresh)
    per = (cold - base) / n * 1000
    print(f"\nrunner overhead: {per:.2f} ms per trivial step, cold ({n} steps; target < 2 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M rows, one pair")
    ap.add_argument("--sizes", default="1000000,3000000,10000000")
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of: scale,parallel,wine,trivial")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    pairs = args.pairs
    if args.quick:
        sizes, pairs = [1_000_000], 1
    skip = set(args.skip.split(","))
    root = Path(tempfile.mkdtemp(prefix="nb2pipe-bench-scale-"))
    print(f"nb2pipe bench_scale: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    try:
        if "scale" not in skip:
            for n in sizes:
                need = n / 1e6 * 1200  # MB: ~1.2 GB per million rows for a cold run, measured
                if free_mb() < need:
                    print(f"\n{n:,} rows: skipped, {free_mb():.0f} MB free < {need:.0f} MB")
                    continue
                bench_size(root, n, pairs)
        if "parallel" not in skip:
            bench_parallel(root, 2_000_000 if not args.quick else 1_500_000, pairs)
        if "wine" not in skip:
            bench_wine(root, pairs)
        if "trivial" not in skip:
            bench_trivial(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
