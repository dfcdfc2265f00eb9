"""The real-world corpus: notebooks written the way data scientists write them, run
untagged, tagged and through `nb2pipe verify` (see README.md in this folder).

Each (notebook, mode) has an expected outcome in corpus.yaml: ``equal`` (every value the
pipeline computes equals papermill's) or an explicit ``refused: ...``, ``crashes: ...`` or
``unstable: ...``. A run that does better or worse than expected fails, so an improvement
of the compiler shows up here until the expectation is updated. A silent difference (the
pipeline finishes and computes something else) can never be expected: it always fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realworld_harness import ACCEPTED, HERE, MODES, Outcome, classify, load, reason, run

ENTRIES = load()


def _params() -> list[object]:
    params = []
    for entry in ENTRIES:
        for mode in MODES:
            if mode == "cli" and not entry.cli:
                continue
            # one test per notebook and mode: `-n 2` spreads the ~55 of them over both cores
            marks = [pytest.mark.integration]
            params.append(pytest.param(entry, mode, marks=marks, id=f"{entry.name}-{mode}"))
    return params


def test_corpus_is_complete() -> None:
    assert len(ENTRIES) >= 24
    assert len({e.source.split(":")[0] for e in ENTRIES}) >= 3  # three styles of source
    for entry in ENTRIES:
        assert entry.file.is_file(), entry.file
        assert entry.tags, f"{entry.name}: no tags for the tagged mode"
        for item in entry.data:
            assert (entry.file.parent / item).exists(), (entry.name, item)
    assert sum(e.cli for e in ENTRIES) >= 6
    listed = {e.file.name for e in ENTRIES}
    present = {p.name for p in (HERE / "notebooks").iterdir() if p.suffix in (".py", ".ipynb")}
    assert present == listed, f"notebooks not in corpus.yaml: {present - listed}"


def test_the_corpus_stays_small() -> None:
    size = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    assert size < 5_000_000, size


def test_expectations_cover_every_mode() -> None:
    for entry in ENTRIES:
        for mode in MODES:
            kind = entry.expected(mode).partition(":")[0]
            assert kind in ACCEPTED, (entry.name, mode, kind)


def test_a_silent_difference_is_never_accepted() -> None:
    """The outcome vocabulary: a difference the pipeline does not report matches no
    expectation, whatever its text."""
    silent = Outcome("differs", "train.model: mismatch")
    assert not any(silent.matches(f"{kind}: ") for kind in ACCEPTED)
    assert Outcome("refused", "cell 3: no").matches("refused: cell 3")
    assert not Outcome("refused", "cell 3: no").matches("equal")
    assert not Outcome("equal").matches("refused: ")


def _row(verdict: str, detail: str = "") -> dict[str, str]:
    return {"step": "train", "variable": "model", "verdict": verdict, "how": "", "detail": detail}


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        ({"rows": [_row("ok")]}, "equal"),
        ({"rows": [_row("mismatch", "0.9 != 0.8")]}, "differs"),
        ({"rows": [_row("failed")], "pipeline_error": "step 'train' failed"}, "crashes"),
        ({"rows": [_row("not run")]}, "crashes"),
        ({"rows": [_row("ok")], "notebook_error": "cell 3: NameError"}, "broken"),
        ({"rows": []}, "broken"),
    ],
)
def test_verify_results_are_classified(result: dict, kind: str) -> None:
    """How verify's JSON result maps to an outcome: a mismatch with the pipeline done is a
    silent difference; a notebook failing by itself is the corpus's fault."""
    assert classify(result, Path("nb.ipynb")).kind == kind


def test_reasons_are_counted_by_kind() -> None:
    a = Outcome(
        "refused",
        "nb.ipynb, cell 3, line 2: 'f' is defined inside step 'a' because "
        "it uses x, y, so step 'b' cannot use it (pass those values as arguments)",
    )
    b = Outcome(
        "refused",
        "nb.ipynb, cell 9, line 1: 'g' is defined inside step 'c' because "
        "it uses FIGURES, so step 'd' cannot use it (pass those values as arguments)",
    )
    assert reason(a) == reason(b)
    crash = Outcome(
        "crashes",
        "step 'read' failed at cell 3, line 12 (os.makedirs(P)): "
        "NameError: name 'P' is not defined",
    )
    assert reason(crash) == "crashes: NameError: name '…' is not defined"


@pytest.mark.parametrize(("entry", "mode"), _params())
def test_notebook(entry, mode: str, tmp_path: Path) -> None:
    outcome = run(entry, mode, tmp_path)
    expected = entry.expected(mode)
    assert outcome.kind != "differs", f"silent difference: {outcome.detail}"
    assert outcome.kind != "broken", outcome.detail
    assert outcome.matches(expected), (
        f"{entry.name} ({mode}): expected {expected!r}, got {str(outcome)!r}; "
        "update corpus.yaml and the table in README.md if this is an improvement"
    )
    if outcome.kind == "equal":
        assert outcome.values > 0, "nothing was compared"
