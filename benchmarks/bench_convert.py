"""How long `nb2pipe convert` takes, whole process, against `jupyter nbconvert --to script`.

Prints absolute figures (best of N runs) and the ratio to the baseline measured in the
same script, for sample notebook (a) and for a synthetic 500-cell notebook.

    python benchmarks/bench_convert.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def synthetic(path: Path, cells: int = 500) -> None:
    """A notebook of `cells` code cells: imports, parameters, then 5-cell steps."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nb.cells.append(
        nbformat.v4.new_code_cell("import math\nimport json", metadata={"tags": ["imports"]})
    )
    nb.cells.append(
        nbformat.v4.new_code_cell("scale = 2  # a factor", metadata={"tags": ["parameters"]})
    )
    nb.cells.append(nbformat.v4.new_code_cell("v0 = 1", metadata={"tags": ["step:s0"]}))
    step = 0
    for i in range(1, cells - 2):
        src = f"v{i} = v{i - 1} * scale + math.sqrt({i})\nif v{i} > 1e6:\n    v{i} = v{i} % 97"
        tags = []
        if i % 5 == 0:
            step += 1
            tags = [f"step:s{step}"]
        nb.cells.append(nbformat.v4.new_code_cell(src, metadata={"tags": tags}))
    nbformat.write(nb, path)


def best(cmd: list[str], runs: int, cwd: Path) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def measure(nb: Path, runs: int, work: Path) -> tuple[float, float]:
    out = work / "pkg"
    ours = best([str(BIN / "nb2pipe"), "convert", str(nb), "-o", str(out), "-q"], runs, work)
    base = best(
        [str(BIN / "jupyter"), "nbconvert", "--to", "script", str(nb), "--output-dir", str(work)],
        runs,
        work,
    )
    shutil.rmtree(out, ignore_errors=True)
    return ours, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big = work / "synthetic_500.ipynb"
        synthetic(big)
        cases = [
            ("sample (a) wine_classifier", ROOT / "sample_notebooks/wine_classifier.ipynb"),
            ("synthetic 500 cells", big),
        ]
        print(f"{'notebook':32} {'nb2pipe convert':>16} {'nbconvert script':>17} {'ratio':>7}")
        for label, nb in cases:
            ours, base = measure(nb, args.runs, work)
            print(f"{label:32} {ours:15.3f}s {base:16.3f}s {ours / base:6.2f}x")


if __name__ == "__main__":
    main()
