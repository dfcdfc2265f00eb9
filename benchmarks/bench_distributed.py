"""Steps on a Dask cluster (issue 17): speed-up on independent heavy steps, per-task cost.

1. The two-heavy-branches notebook: one table (6,000 x 40, make_classification), then two
   ensembles trained on it in independent steps (a random forest, extra trees; n_jobs=1
   each), then a step comparing them. Timed as ``-j 1`` (inline) and on a 2-worker
   ``LocalCluster`` (``--executor dask -j 2``): with the run's own cluster (its start
   included), and on a cluster already running (``--address``).
2. Per-task overhead on Dask: a chain of trivial steps, ``--force``, on a running cluster,
   against the same chain ``-j 1``: (dask - inline) / steps.

Targets: >= 1.4x on 2 cores; <= 50 ms per task. The ideal speed-up is printed beside it:
the inline run's step durations summed, over its critical path (data, the slower branch,
compare); with equal trees the forest takes about three times the extra trees, so the
ideal is near 1.3x: ``--extra-trees`` evens the branches out. Times are medians of
``--repeat`` runs. Usage:
``python benchmarks/bench_distributed.py [--trees N] [--extra-trees N] [--steps N]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEAVY = """# %% tags=["imports"]
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

# %% tags=["parameters"]
trees = {trees}
extra_trees = {extra_trees}

# %% tags=["step:data"]
X, y = make_classification(n_samples=6000, n_features=40, n_informative=20, random_state=0)

# %% tags=["step:forest"]
forest = RandomForestClassifier(n_estimators=trees, n_jobs=1, random_state=0).fit(X, y)
forest_acc = float(forest.score(X, y))

# %% tags=["step:extra"]
extra = ExtraTreesClassifier(n_estimators=extra_trees, n_jobs=1, random_state=0).fit(X, y)
extra_acc = float(extra.score(X, y))

# %% tags=["step:compare"]
best = max(forest_acc, extra_acc)

# %% tags=["metrics"]
print(forest_acc, extra_acc, best)
"""


def chain(steps: int) -> str:
    cells = ['# %% tags=["step:s0"]\nv0 = 0\n']
    for i in range(1, steps):
        cells.append(f'# %% tags=["step:s{i}"]\nv{i} = v{i - 1} + 1\n')
    cells.append(f'# %% tags=["metrics"]\nprint(v{steps - 1})\n')
    return "\n".join(cells)


def convert(text: str, folder: Path, name: str) -> object:
    from nb2pipe import api

    nb = folder / "notebooks" / f"{name}.py"
    nb.parent.mkdir(exist_ok=True)
    nb.write_text(text, encoding="utf-8")
    out = folder / name
    api.convert(nb, out)
    sys.path.insert(0, str(folder))
    return api.load_package(out)


def timed(pipeline: object, runs: Path, **options: object) -> tuple[float, object]:
    from nb2pipe.runtime import run

    t0 = time.perf_counter()
    result = run(pipeline, runs_dir=runs, progress="none", quiet=True, register=False,
                 force=True, **options)  # fmt: skip
    elapsed = time.perf_counter() - t0
    assert result.ok, result.error
    return elapsed, result


def ideal(result: object) -> float:
    """Speed-up two workers could give: all the steps' time over the critical path's."""
    d = {name: float(s.get("duration") or 0.0) for name, s in result.steps.items()}  # type: ignore[attr-defined]
    return sum(d.values()) / (d["data"] + max(d["forest"], d["extra"]) + d["compare"])


def median_of(repeat: int, pipeline: object, runs: Path, **options: object) -> tuple[float, object]:
    runs_ = [timed(pipeline, runs, **options) for _ in range(repeat)]
    runs_.sort(key=lambda tr: tr[0])
    return runs_[len(runs_) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trees", type=int, default=150)
    parser.add_argument("--extra-trees", type=int, default=None, help="default: --trees")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    extra_trees = args.extra_trees or args.trees
    import dask
    import distributed

    from nb2pipe.runtime.cluster.dask_executor import RETRIES

    tmp = Path(tempfile.mkdtemp(prefix="nb2pipe-bench-distributed-"))
    try:
        heavy = convert(HEAVY.format(trees=args.trees, extra_trees=extra_trees), tmp, "two_heavy")
        light = convert(chain(args.steps), tmp, "trivial_chain")
        runs = tmp / "runs"
        timed(heavy, runs)  # warm: imports, page cache
        inline, ref = median_of(args.repeat, heavy, runs)
        own, res = timed(heavy, runs, executor="dask", jobs=2)
        assert res.metrics == ref.metrics
        with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                               processes=True, dashboard_address=None,
                                               silence_logs=40)  # fmt: skip
        try:
            address = cluster.scheduler_address
            timed(heavy, runs, executor="dask", jobs=2, address=address)  # warm the workers
            running, res = median_of(
                args.repeat, heavy, runs, executor="dask", jobs=2, address=address
            )
            assert res.metrics == ref.metrics
            chain_inline, _ = timed(light, runs)
            timed(light, runs, executor="dask", jobs=1, address=address)
            chain_dask, _ = timed(light, runs, executor="dask", jobs=1, address=address)
        finally:
            cluster.close()
        print(f"two heavy branches (6,000 x 40, {args.trees} and {extra_trees} trees), 2 cores, "
              f"medians of {args.repeat}; ideal speed-up {ideal(ref):.2f}x")  # fmt: skip
        print(f"  -j 1 inline                         {inline:7.2f} s")
        print(f"  dask -j 2, its own LocalCluster     {own:7.2f} s   speed-up {inline / own:.2f}x")
        print(f"  dask -j 2, a running LocalCluster   {running:7.2f} s   speed-up "
              f"{inline / running:.2f}x   (target >= 1.4x)")  # fmt: skip
        per = (chain_dask - chain_inline) / args.steps * 1000
        print(f"trivial chain of {args.steps} steps: -j 1 {chain_inline:.2f} s, dask "
              f"{chain_dask:.2f} s: overhead {per:.1f} ms per task (target <= 50 ms)")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
