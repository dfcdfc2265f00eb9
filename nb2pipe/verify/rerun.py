"""When values differ, is it the pipeline, or the notebook itself? verify runs the
notebook a second time; a value the notebook computes differently on its second run is
not the pipeline's fault: its row says so, naming the cell with unseeded randomness the
analysis found (an estimator without random_state, numpy.random with no seed, ...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nb2pipe.verify.compare import Comparer, Tolerance
from nb2pipe.verify.result import Row


def unseeded_cells(layout: Any) -> list[int]:
    """Cells where the notebook draws from a global random stream nothing seeds."""
    from nb2pipe import compiler
    from nb2pipe.errors import Nb2pipeError

    try:
        pipe = compiler.compile(layout).pipeline
    except Nb2pipeError:
        return []
    return sorted({d.cell for d in pipe.diagnostics if d.code == "unseeded-random" and d.cell})


def culprit(cells: Sequence[int], step_cells: Sequence[int]) -> int | None:
    """The unseeded cell in the step, else the last one before it."""
    if not step_cells:
        return None
    first, last = min(step_cells), max(step_cells)
    inside = [c for c in cells if first <= c <= last]
    if inside:
        return inside[0]
    before = [c for c in cells if c < first]
    return before[-1] if before else None


def reconcile(
    rows: list[Row],
    first: Callable[[str, str], Any],
    second: Callable[[str, str], Any],
    tol: Tolerance,
    step_cells: dict[str, tuple[int, ...]],
    cells: Callable[[], list[int]],
) -> list[Row]:
    """The rows, with each mismatch whose notebook value changed between the notebook's
    two runs turned into a 'nondeterministic' row; so is a mismatch in or after a cell
    with unseeded randomness even when the two runs agree (a value with few outcomes, such
    as a small forest's prediction on a training row, repeats by chance)."""
    found: list[int] | None = None
    out = []
    for row in rows:
        if row.verdict != "mismatch":
            out.append(row)
            continue
        try:
            same = Comparer(tol).compare(
                first(row.step, row.variable), second(row.step, row.variable)
            )
        except Exception:  # noqa: BLE001 - not captured the second time: keep the mismatch
            out.append(row)
            continue
        if found is None:
            found = cells()
        cell = culprit(found, step_cells.get(row.step, ()))
        if same.ok and not cell:
            out.append(row)
            continue
        why = (
            f"unseeded randomness in cell {cell}"
            if cell
            else "it gave another value when run again"
        )
        out.append(
            Row(
                row.step,
                row.variable,
                "nondeterministic",
                row.how,
                f"the notebook itself is not deterministic here ({why})",
            )  # fmt: skip
        )
    return out
