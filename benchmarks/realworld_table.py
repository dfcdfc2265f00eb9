"""Run the real-world corpus and print its table: per notebook and mode, the outcome
(equal / refused / crashes / unstable / differs / broken) with its reason, whether it
matches corpus.yaml, and the counts of each reason.

    python benchmarks/realworld_table.py                     # tests/realworld, every mode
    python benchmarks/realworld_table.py --modes untagged    # one mode
    python benchmarks/realworld_table.py --corpus DIR -j 2   # another corpus folder, 2 at a time

Paste the Markdown it prints into tests/realworld/README.md after a compiler change.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "realworld"))

import realworld_harness as rw  # noqa: E402


def _one(job: tuple[Path, str, str]) -> tuple[str, str, rw.Outcome, float]:
    corpus, name, mode = job
    entry = next(e for e in rw.load(corpus) if e.name == name)
    started = time.perf_counter()
    outcome = rw.run(entry, mode)
    return name, mode, outcome, time.perf_counter() - started


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "tests" / "realworld")
    ap.add_argument("--modes", default=",".join(rw.MODES))
    ap.add_argument("--only", default="", help="comma-separated notebook names")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--save", type=Path, help="also write the outcomes to this JSON file")
    ap.add_argument("--load", type=Path, help="print the table of a --save file, run nothing")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    entries = [e for e in rw.load(args.corpus) if not args.only or e.name in args.only.split(",")]
    jobs = [(args.corpus, e.name, m) for e in entries for m in modes if m == "untagged" or e.tags]
    started = time.perf_counter()
    if args.load:
        saved = json.loads(args.load.read_text(encoding="utf-8"))
        results = [(r.pop("name"), r.pop("mode"), r.pop("seconds"), rw.Outcome(**r)) for r in saved]
        results = [(n, m, o, s) for n, m, s, o in results if (args.corpus, n, m) in jobs]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(_one, jobs))
    wall = time.perf_counter() - started
    if args.save:
        rows = [{"name": n, "mode": m, "seconds": round(s, 1), **dataclasses.asdict(o)}
                for n, m, o, s in results]  # fmt: skip
        args.save.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    by = {(n, m): (o, s) for n, m, o, s in results}
    expected = {e.name: e for e in entries}

    print(f"| notebook | {' | '.join(modes)} |")
    print(f"|---|{'---|' * len(modes)}")
    for e in entries:
        cells = []
        for m in modes:
            if (e.name, m) not in by:
                cells.append("not run (no tags)")
                continue
            o, s = by[(e.name, m)]
            mark = "" if o.matches(e.expected(m)) else " **(not as expected)**"
            text = f"{o.kind}{mark}"
            if o.kind != "equal":
                text += f": {_cell(rw.short(o))}"
            else:
                text += f" ({o.steps} steps, {o.values} values)"
            cells.append(text)
        print(f"| {e.name} | {' | '.join(cells)} |")

    print()
    for m in modes:
        got = [by[(e.name, m)][0] for e in entries if (e.name, m) in by]
        kinds = Counter(o.kind for o in got)
        converted = sum(o.converted for o in got)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        print(f"- {m}: {len(got)} notebooks; converted {converted}; {summary}")
    print()
    reasons = Counter(rw.reason(o) for o, _ in by.values() if o.kind != "equal")
    print("| reason (all modes) | count |")
    print("|---|---|")
    for text, count in reasons.most_common():
        print(f"| {_cell(text)} | {count} |")
    off = [(n, m) for (n, m), (o, _) in by.items() if not o.matches(expected[n].expected(m))]
    print(f"\n{len(results)} runs in {wall:.0f} s wall, {sum(s for *_, s in results):.0f} s total")
    print(f"not as expected: {len(off)}" + (f" {off}" if off else ""))
    return 1 if off else 0


if __name__ == "__main__":
    sys.exit(main())
