"""Runner overhead on a synthetic 100-step pipeline of trivial steps.

Writes a package of N steps (each adds one to its upstream's output and reads a
parameter; every fifth step also reads the output of the step five before it), then
measures in this one script:

- baseline: the same step functions imported and called in a plain Python loop
  (in-process, and as a whole process);
- the runner in-process (``nb2pipe.runtime.run``): cold (empty store), with and without
  the mutation guard, and fully cached;
- the runner as a whole process (``python -m <package>``): cold, fully cached, and after a
  change of the parameter read only by the last step; cold with ``-j 4``.

Targets (issue 3): under 5 ms of overhead per step; a fully cached rerun under 0.3 s for the
whole process. Usage: ``python benchmarks/bench_runtime.py [--steps N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PKG = "bench_pipe"


def write_package(root: Path, n: int) -> None:
    pkg = root / PKG
    (pkg / "steps").mkdir(parents=True)
    (root / "work").mkdir()
    (pkg / "__init__.py").write_text('"""Synthetic benchmark pipeline."""\n')
    (pkg / "steps" / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "from nb2pipe.runtime import main\n\nfrom .pipeline import PIPELINE\n\n"
        'if __name__ == "__main__":\n    raise SystemExit(main(PIPELINE))\n'
    )
    steps, params = [], []
    for i in range(n):
        name = f"s{i:03d}"
        inputs: dict[str, str] = {}
        if i:
            inputs[f"v{i - 1:03d}"] = f"s{i - 1:03d}"
        if i >= 5 and i % 5 == 0:
            inputs[f"v{i - 5:03d}"] = f"s{i - 5:03d}"
        args = ", ".join(inputs)
        total = " + ".join([*inputs, f"p{i:03d}"]) if inputs else f"p{i:03d}"
        sig = f"{args}, *, p{i:03d}: int = 1" if args else f"*, p{i:03d}: int = 1"
        (pkg / "steps" / f"{name}.py").write_text(
            "from typing import Any\n\n\n"
            f"def {name}({sig}) -> dict[str, Any]:\n"
            f"    # cell {i + 1}\n"
            f"    v{i:03d} = {total}\n"
            f"    return {{'v{i:03d}': v{i:03d}}}\n"
        )
        steps.append(
            f"Step({name!r}, inputs={inputs!r}, outputs=('v{i:03d}',), params=('p{i:03d}',), cells=({i + 1},))"
        )
        params.append(f"Param('p{i:03d}', int, 1)")
    (pkg / "pipeline.py").write_text(
        "from nb2pipe.runtime import Param, Pipeline, Step\n\n"
        f"PIPELINE = Pipeline(name={PKG!r}, package=__package__,\n"
        f"    steps=({', '.join(steps)},),\n"
        f"    parameters=({', '.join(params)},),\n"
        "    workdir='../work', generated_by='0.1.0')\n"
    )
    (root / "baseline.py").write_text(
        "import importlib\n"
        f"from {PKG}.pipeline import PIPELINE\n"
        "values = {}\n"
        "for step in PIPELINE.steps:\n"
        "    fn = PIPELINE.function(step.name)\n"
        "    out = fn(**{v: values[v] for v in step.inputs}, **{p: 1 for p in step.params})\n"
        "    values.update(out)\n"
    )


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def best(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        times.append(timed(fn))
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, repeat = args.steps, args.repeat

    root = Path(tempfile.mkdtemp(prefix="nb2pipe-bench-"))
    try:
        write_package(root, n)
        sys.path.insert(0, str(root))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}
        counter = iter(range(1_000_000))
        runs_dir = [root / "runs0"]

        def fresh() -> None:  # a new, empty runs dir (and store) for each cold measurement
            runs_dir[0] = root / f"runs{next(counter) + 1}"

        import importlib

        from nb2pipe.runtime import run

        pipeline = importlib.import_module(f"{PKG}.pipeline").PIPELINE
        functions = {s.name: pipeline.function(s.name) for s in pipeline.steps}

        def baseline() -> None:
            values: dict[str, int] = {}
            for s in pipeline.steps:
                values.update(
                    functions[s.name](
                        **{v: values[v] for v in s.inputs}, **{p: 1 for p in s.params}
                    )
                )

        def runner(**kw: object) -> Callable[[], object]:
            return lambda: run(pipeline, runs_dir=runs_dir[0], progress="none", **kw)  # type: ignore[arg-type]

        def proc(*extra: str) -> Callable[[], object]:
            def call() -> None:
                cmd = [sys.executable, "-m", PKG, "--runs-dir", str(runs_dir[0]), "--quiet", *extra]
                subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)

            return call

        base_calls = best(baseline, repeat * 3)
        base_proc = best(
            lambda: subprocess.run([sys.executable, "baseline.py"], cwd=root, env=env, check=True),
            repeat,
        )
        cold = best(runner(), repeat, fresh)
        cold_noguard = best(runner(guard=False), repeat, fresh)
        runner()()
        cached = best(runner(), repeat)
        proc_cold = best(proc(), repeat, fresh)
        proc_cached = best(proc(), repeat)
        last = pipeline.steps[-1].params[0]
        proc_last = best(proc("-p", f"{last}=2"), 1)
        proc_last_rec = json.loads(
            max(
                (p for p in runs_dir[0].iterdir() if p.name != "store"),
                key=lambda p: p.stat().st_mtime,
            )
            .joinpath("run.json")
            .read_text()
        )
        ran = [s for s, r in proc_last_rec["steps"].items() if r["status"] == "ok"]
        proc_par = best(proc("-j", "4"), 1, fresh)

        per = lambda t: (t - base_calls) / n * 1000  # noqa: E731
        rows = [
            ("plain loop, in-process (baseline)", base_calls, "1.0x"),
            ("plain loop, whole process", base_proc, f"{base_proc / base_calls:.0f}x"),
            ("run() cold, guard on", cold, f"{per(cold):.2f} ms/step overhead"),
            ("run() cold, --no-guard", cold_noguard, f"{per(cold_noguard):.2f} ms/step overhead"),
            ("run() fully cached", cached, f"{per(cached):.2f} ms/step overhead"),
            ("python -m pkg cold", proc_cold, f"{proc_cold / base_proc:.1f}x plain process"),
            (
                "python -m pkg fully cached",
                proc_cached,
                f"{proc_cached / base_proc:.1f}x plain process",
            ),
            ("python -m pkg, last step's param changed", proc_last, f"ran: {', '.join(ran)}"),
            ("python -m pkg cold -j 4", proc_par, f"{proc_par / proc_cold:.1f}x sequential"),
        ]
        print(
            f"nb2pipe runtime benchmark: {n} trivial steps, best of {repeat}, Python {sys.version.split()[0]}"
        )
        width = max(len(r[0]) for r in rows)
        for label, seconds, note in rows:
            print(f"  {label:<{width}}  {seconds * 1000:9.1f} ms   {note}")
        guard_cost = (cold - cold_noguard) / n * 1000
        print(f"  mutation guard: {guard_cost:.2f} ms/step on these (tiny) inputs")
        ok_overhead = per(cold) < 5
        ok_cached = proc_cached < 0.3
        print(
            f"targets: overhead < 5 ms/step: {'met' if ok_overhead else 'MISSED'} ({per(cold):.2f}); "
            f"cached process < 0.3 s: {'met' if ok_cached else 'MISSED'} ({proc_cached:.3f} s)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
