"""Which format for intermediates? Encode, decode and size of the issue-12 DataFrame.

The frame of ``scale_notebook.py`` (n rows: 16 float64 columns from one 2-D block, a
string column of 50 values, an int column, plus the two feature columns) written to a
file and read back, in this process, best of ``--repeat``:

- Parquet (snappy, and uncompressed), as the store wrote before;
- Arrow IPC files (Feather v2): uncompressed, lz4, zstd; read whole, and memory-mapped;
- joblib (pickle), for reference.

Usage: ``python benchmarks/bench_formats.py [--rows 3000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def frame(n: int):  # noqa: ANN201 - pandas is imported lazily
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(n, 16)), columns=[f"f{i}" for i in range(16)])
    df["cat"] = rng.integers(0, 50, n).astype(str)
    df["y"] = (df.f0 + df.f1 * 0.5 + rng.normal(size=n) > 0).astype(int)
    df["f0_sq"] = df.f0**2
    df["cat_code"] = df["cat"].astype("category").cat.codes
    return df


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    import joblib
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    df = frame(args.rows)
    mem = df.memory_usage(deep=True).sum() / 2**20
    folder = Path(tempfile.mkdtemp(prefix="nb2pipe-formats-"))
    path = folder / "x"

    def ipc_write(codec: str | None) -> Callable[[], object]:
        return lambda: feather.write_feather(df, path, compression=codec or "uncompressed")

    def ipc_read(mmap: bool) -> Callable[[], object]:
        return lambda: feather.read_table(path, memory_map=mmap).to_pandas()

    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "parquet snappy",
            lambda: pq.write_table(pa.Table.from_pandas(df), path),
            lambda: pq.read_table(path).to_pandas(),
        ),
        (
            "parquet none",
            lambda: pq.write_table(pa.Table.from_pandas(df), path, compression="none"),
            lambda: pq.read_table(path).to_pandas(),
        ),
        ("arrow ipc uncompressed", ipc_write(None), ipc_read(False)),
        ("arrow ipc uncompressed, mmap read", ipc_write(None), ipc_read(True)),
        ("arrow ipc lz4", ipc_write("lz4"), ipc_read(False)),
        ("arrow ipc zstd", ipc_write("zstd"), ipc_read(False)),
        ("joblib", lambda: joblib.dump(df, path), lambda: joblib.load(path)),
    ]
    print(
        f"{args.rows:,} rows x {df.shape[1]} columns, {mem:.0f} MB in memory, best of {args.repeat}"
    )
    print(f"  {'format':<36} {'write':>8} {'read':>8} {'size':>9}")
    for label, write, read in cases:
        w = best(write, args.repeat)
        r = best(read, args.repeat)
        size = os.path.getsize(path) / 2**20
        print(f"  {label:<36} {w:7.2f}s {r:7.2f}s {size:7.0f}MB")
    path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
