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

Then, on sample notebook (a) converted by the compiler: the notebook's kept cells as one
plain script vs. the pipeline cold, cold with ``-j 2``, fully cached, and after changing a
parameter read only by the last step.

Targets (issue 3): under 5 ms of overhead per step; a fully cached rerun under 0.3 s for the
whole process; a cold run at most 1.3x the plain script. Usage: ``python benchmarks/bench_runtime.py [--steps N] [--repeat R]``.
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
from typing import Any

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


def plain_script(notebook: Path) -> str:
    """The notebook's kept cells (all but `skip`) as one script, magics dropped."""
    nb = json.loads(notebook.read_text())
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] != "code" or "skip" in c.get("metadata", {}).get("tags", []):
            continue
        src = "".join(c["source"])
        cells.append(
            "\n".join(x for x in src.splitlines() if not x.lstrip().startswith(("%", "!")))
        )
    return "\n\n".join(cells) + "\n"


def bench_sample(notebook: Path, repeat: int) -> None:
    """Sample notebook (a): convert it (the compiler must be importable), then compare."""
    try:
        from nb2pipe import api
    except ImportError as exc:  # pragma: no cover - the compiler is a separate issue
        print(f"sample notebook: skipped (compiler not importable: {exc})")
        return
    root = Path(tempfile.mkdtemp(prefix="nb2pipe-bench-nb-"))
    try:
        (root / "nb").mkdir()
        shutil.copy(notebook, root / "nb" / notebook.name)
        _, out, _ = api.convert(root / "nb" / notebook.name, root / "pipelines" / "sample")
        (root / "nb" / "plain.py").write_text(plain_script(notebook))
        (root / "pipelines" / "__init__.py").write_text("")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}
        counter = iter(range(1_000_000))
        runs = [root / "runs0"]

        def fresh() -> None:
            runs[0] = root / f"runs{next(counter) + 1}"

        def proc(*extra: str) -> Callable[[], object]:
            def call() -> None:
                cmd = [sys.executable, "-m", "pipelines.sample", "--runs-dir", str(runs[0]), "-q"]
                subprocess.run([*cmd, *extra], cwd=root, env=env, check=True, capture_output=True)

            return call

        def plain() -> None:
            subprocess.run(
                [sys.executable, "plain.py"],
                cwd=root / "nb",
                env=env,
                check=True,
                capture_output=True,
            )

        pipe = importlib_pipeline(root, "pipelines.sample")
        last = pipe.steps[-1]
        only_last = [
            p.name
            for p in pipe.parameters
            if p.name in last.params and all(p.name not in s.params for s in pipe.steps[:-1])
        ]
        t_plain = best(plain, repeat)
        t_cold = best(proc(), repeat, fresh)
        t_noguard = best(proc("--no-guard"), repeat, fresh)
        t_cached = best(proc(), repeat)
        t_par = best(proc("-j", "2"), repeat, fresh)
        rows = [
            ("notebook's kept cells as a plain script", t_plain, "1.00x"),
            ("python -m pkg cold", t_cold, f"{t_cold / t_plain:.2f}x plain (target <= 1.3x)"),
            (
                "python -m pkg cold --no-guard",
                t_noguard,
                f"guard costs {t_cold - t_noguard:+.2f} s",
            ),
            ("python -m pkg cold -j 2", t_par, f"{t_par / t_plain:.2f}x plain"),
            ("python -m pkg fully cached", t_cached, "target < 0.3 s"),
        ]
        if only_last:
            name = only_last[0]
            value = next(p.default for p in pipe.parameters if p.name == name)
            new = value * 0.5 if isinstance(value, (int, float)) else value
            t_last = best(proc("-p", f"{name}={new}"), 1)
            latest = max((p.parent for p in runs[0].glob("*/run.json")), key=lambda p: p.name)
            record = json.loads((latest / "run.json").read_text())
            ran = [s for s, r in record["steps"].items() if r["status"] in ("ok", "failed")]
            rows.append(
                (f"-p {name}={new} (read by the last step only)", t_last, f"ran: {', '.join(ran)}")
            )
        print(f"\nsample notebook {notebook.name}: {len(pipe.steps)} steps, best of {repeat}")
        width = max(len(r[0]) for r in rows)
        for label, seconds, note in rows:
            print(f"  {label:<{width}}  {seconds * 1000:9.1f} ms   {note}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def importlib_pipeline(root: Path, package: str) -> Any:
    import importlib

    sys.path.insert(0, str(root))
    return importlib.import_module(f"{package}.pipeline").PIPELINE


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
    ap.add_argument(
        "--notebook",
        type=Path,
        default=REPO / "sample_notebooks" / "wine_classifier.ipynb",
        help="sample notebook (a) for the end-to-end figures ('' to skip)",
    )
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
    if str(args.notebook) not in ("", ".") and args.notebook.exists():
        bench_sample(args.notebook, repeat)


if __name__ == "__main__":
    main()
