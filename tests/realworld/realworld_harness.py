"""Run a notebook of a real-world corpus one way and say what happened, in one line.

A corpus is a folder with ``corpus.yaml`` (one entry per notebook: its file, the tags a
user would add, the expected outcome per mode) and the notebooks and data files it names.
The modes:

- ``untagged``: the notebook as written (steps cut at headings), through ``verify()``;
- ``tagged``: the same notebook with the entry's tags added, through ``verify()``;
- ``cli``: ``nb2pipe verify --json`` on the tagged copy, in a subprocess, as a user runs it.

Each run ends in one :class:`Outcome`. ``equal``: every value the pipeline computed equals
papermill's. ``refused``: convert said why it cannot, in one line. ``crashes``: the
pipeline (or verify) stopped with an error where the notebook ran. ``unstable``: verify
found differences, but only in values that the notebook itself does not reproduce from one
run to the next (checked by running it again). ``differs``: the pipeline finished and
computed something else: a silent difference, never an accepted outcome. ``broken``: the
notebook fails by itself, or the entry is wrong: the corpus needs fixing.

Used by ``test_realworld.py`` and ``benchmarks/realworld_table.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MODES = ("untagged", "tagged", "cli")
ACCEPTED = ("equal", "refused", "crashes", "unstable")  # an expectation names one of these
TIMEOUT = 300  # seconds a notebook cell may run
RERUNS = 2  # more runs of the notebook, to tell its own differences from the pipeline's


@dataclass(frozen=True)
class Entry:
    name: str
    file: Path
    fmt: str | None  # jupytext format, e.g. "py:sphinx"; None: from the extension
    tags: dict[int, list[str]]  # 1-based cell number -> tags (the tagged mode)
    expect: dict[str, str]  # mode -> "equal" | "refused: ..." | ...
    cli: bool  # run the cli mode in the test suite (the table always runs it)
    data: tuple[str, ...]  # files or folders beside the notebook that it reads
    source: str = ""

    def expected(self, mode: str) -> str:
        if mode == "cli":
            return self.expect.get("cli", self.expect.get("tagged", "equal"))
        return self.expect.get(mode, "equal")


@dataclass
class Outcome:
    kind: str  # equal | refused | crashes | unstable | differs | broken
    detail: str = ""  # the one-line reason
    converted: bool = False  # convert wrote a package
    steps: int = 0
    values: int = 0  # values compared
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind

    def matches(self, expected: str) -> bool:
        """``expected`` is ``kind`` or ``kind: substring of the detail``."""
        kind, _, text = expected.partition(":")
        return self.kind == kind.strip() and text.strip() in self.detail


def load(corpus: Path = HERE) -> list[Entry]:
    raw = yaml.safe_load((corpus / "corpus.yaml").read_text(encoding="utf-8")) or {}
    entries = []
    for name, spec in raw.items():
        expect = dict(spec.get("expect") or {})
        for mode, value in expect.items():
            kind = str(value).partition(":")[0].strip()
            if mode not in MODES or kind not in ACCEPTED:
                raise ValueError(f"corpus.yaml, {name}: bad expectation {mode}: {value!r}")
        entries.append(
            Entry(
                name=name,
                file=corpus / spec["file"],
                fmt=spec.get("format"),
                tags={int(k): list(v) for k, v in (spec.get("tags") or {}).items()},
                expect=expect,
                cli=bool(spec.get("cli", False)),
                data=tuple(spec.get("data") or ()),
                source=str(spec.get("source", "")),
            )
        )
    return entries


# -- the notebook a mode runs --------------------------------------------------------------


def materialize(entry: Entry, mode: str, folder: Path) -> Path:
    """Write the notebook (``.ipynb``, tags added for tagged/cli) and its data into
    ``folder``; return the notebook's path."""
    import jupytext
    import nbformat

    nb = jupytext.read(entry.file, fmt=entry.fmt) if entry.fmt else jupytext.read(entry.file)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)  # untagged means as written, whatever the source had
    if mode != "untagged":
        for number, tags in entry.tags.items():
            if not 1 <= number <= len(nb.cells) or nb.cells[number - 1].cell_type != "code":
                raise ValueError(f"corpus.yaml, {entry.name}: cell {number} is not a code cell")
            nb.cells[number - 1].metadata["tags"] = list(tags)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "language": "python",
                                          "display_name": "Python 3"})  # fmt: skip
    for item in entry.data:
        src = entry.file.parent / item
        dst = folder / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)
    path = folder / f"{entry.name}.ipynb"
    nbformat.write(nb, str(path))
    return path


# -- running it ----------------------------------------------------------------------------


def run(entry: Entry, mode: str, folder: Path | None = None) -> Outcome:
    """Run ``entry`` in ``mode`` inside ``folder`` (default: a scratch folder)."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="nb2pipe-realworld-") as tmp:
            return run(entry, mode, Path(tmp))
    try:
        notebook = materialize(entry, mode, folder)
    except (OSError, ValueError) as exc:
        return Outcome("broken", f"cannot prepare the notebook: {exc}")
    if mode == "cli":
        return _run_cli(notebook, folder)
    return _run_api(notebook)


def _run_api(notebook: Path) -> Outcome:
    from nb2pipe.errors import Nb2pipeError
    from nb2pipe.verify import verify

    try:
        first = verify(notebook, timeout=TIMEOUT, keep=True)
    except Nb2pipeError as exc:
        return Outcome("refused", _without_path(str(exc), notebook))
    kept = [first.kept]
    try:
        outcome = classify(_as_dict(first), notebook)
        steady = list(first.problems) if outcome.kind == "differs" else []
        for _ in range(RERUNS if steady else 0):
            again = verify(notebook, timeout=TIMEOUT, keep=True)
            kept.append(again.kept)
            steady = [row for row in steady if _notebook_repeats(row, first, again)]
            if not steady:
                outcome.kind = "unstable"
                break
        if steady:
            names = ", ".join(f"{r.step}.{r.variable}" for r in steady)
            outcome.detail = f"each notebook run gave the same {names}; {outcome.detail}"
        return outcome
    finally:
        for k in kept:
            if k:
                shutil.rmtree(k, ignore_errors=True)


def _run_cli(notebook: Path, folder: Path) -> Outcome:
    proc = subprocess.run(
        [sys.executable, "-m", "nb2pipe.frontends.cli", "verify", "--json", "--timeout", str(TIMEOUT),
         notebook.name],
        capture_output=True, text=True, cwd=folder, timeout=3600,
    )  # fmt: skip
    if proc.returncode == 2:
        lines = proc.stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: ") or "Traceback" in proc.stderr:
            return Outcome("broken", f"exit 2 without a one-line error: {proc.stderr[-300:]}")
        return Outcome("refused", _without_path(lines[0].removeprefix("error: "), notebook))
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return Outcome("broken", f"exit {proc.returncode}, no JSON: {proc.stderr[-300:]}")
    outcome = classify(data, notebook)
    if (proc.returncode == 0) != bool(data.get("ok")):
        return Outcome("broken", f"exit {proc.returncode} but the result says {outcome}")
    if outcome.kind == "differs" and _run_api(notebook).kind == "unstable":
        outcome.kind = "unstable"  # the same differences, which the notebook does not repeat
    return outcome


def _as_dict(result: Any) -> dict[str, Any]:
    from nb2pipe.verify.report import as_json

    return json.loads(as_json(result))


def classify(data: dict[str, Any], notebook: Path) -> Outcome:
    """One outcome from verify's JSON result."""
    rows = data["rows"]
    out = Outcome("equal", converted=True, notes=list(data.get("notes") or ()))
    out.steps = len({r["step"] for r in rows})
    out.values = sum(1 for r in rows if r["variable"])
    if data.get("notebook_error"):
        # the notebook failed by itself (in the kernel): the corpus is wrong, not nb2pipe
        return _with(out, "broken", f"the notebook fails: {data['notebook_error']}", notebook)
    bad = [r for r in rows if r["verdict"] not in ("ok", "skipped")]
    if data.get("pipeline_error"):
        return _with(out, "crashes", data["pipeline_error"], notebook)
    failed = [r for r in bad if r["verdict"] not in ("mismatch", "nondeterministic")]
    if failed:
        r = failed[0]
        return _with(out, "crashes", f"{r['step']}.{r['variable']}: {r['verdict']}: "
                     f"{r['detail']}", notebook)  # fmt: skip
    if bad and all(r["verdict"] == "nondeterministic" for r in bad):
        # verify ran the notebook twice and saw it differ from itself there
        names = ", ".join(f"{r['step']}.{r['variable']}" for r in bad)
        return _with(out, "unstable", f"{names} ({bad[0]['detail']})", notebook)
    bad = [r for r in bad if r["verdict"] == "mismatch"]
    if bad:
        names = ", ".join(f"{r['step']}.{r['variable']}" for r in bad)
        first = f"{bad[0]['step']}.{bad[0]['variable']}: {bad[0]['detail']}"
        return _with(out, "differs", f"{names} ({first})", notebook)
    if not rows:
        return _with(out, "broken", "verify compared nothing", notebook)
    return out


def _with(out: Outcome, kind: str, detail: str, notebook: Path) -> Outcome:
    out.kind = kind
    out.detail = _without_path(" ".join(str(detail).split()), notebook)[:300]
    return out


def _without_path(text: str, notebook: Path) -> str:
    for form in (str(notebook), str(notebook.resolve())):
        text = text.replace(form, notebook.name)
    return text


def _notebook_repeats(row: Any, first: Any, again: Any) -> bool:
    """Whether two runs of the notebook gave equal values for ``row``'s variable (if not,
    a difference there is the notebook's own: a figure, a timing, unseeded randomness)."""
    from nb2pipe.verify import capture
    from nb2pipe.verify.compare import Comparer

    values = []
    for result in (first, again):
        folder = str(Path(result.kept) / "captured")
        entry = (capture.load_manifest(folder, row.step) or {}).get(row.variable) or {}
        values.append(capture.load_value(folder, row.step, entry) if entry else None)
    return Comparer().compare(values[0], values[1]).ok


# -- the table -----------------------------------------------------------------------------


def short(outcome: Outcome, limit: int = 170) -> str:
    """The reason without the notebook's name and the hint, cut to ``limit``."""
    text = re.sub(r"^[^,:]+\.ipynb, ", "", outcome.detail)
    if outcome.kind == "refused":
        text = re.sub(r"\s*\([^()]*\)$", "", text)
    if outcome.kind == "unstable":
        text = text.split(" (")[0]  # the values; the first difference is in the test's output
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason(outcome: Outcome) -> str:
    """The kind of reason, for counting: names, numbers and cells blanked out."""
    if outcome.kind == "unstable":
        return "unstable: verify reports values the notebook itself does not repeat"
    if outcome.kind == "differs":
        return "differs: a silent difference"
    text = short(outcome, 10_000)
    error = re.search(r"\b(\w+(?:Error|Exception)): (.*)$", text)
    if outcome.kind == "crashes" and error:
        text = f"{error.group(1)}: {error.group(2)}"
    text = re.sub(r"^(cell \d+(, line \d+)?: )", "", text)
    text = re.sub(r"because it uses [^']*?, so", "because it uses …, so", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\([^()]*\)", "(…)", text)
    return f"{outcome.kind}: {re.sub(r'[0-9]+', 'N', text)}"
