"""The fidelity corpus: small notebooks, each a hard case for the analysis.

Each one either passes `nb2pipe verify` (the pipeline computes what the notebook computed,
step by step) or fails `convert` with a clear error where equivalence is impossible; the
test asserts which. Notebooks are jupytext percent files in notebooks/; each test copies
its notebook into a fresh folder (files the notebook writes land there) and runs one
kernel for it.

Cases that expose a compiler or runtime bug are marked xfail(strict=True) with the bug;
once fixed they XPASS and fail, so the mark gets removed. A fix may also be an honest
refusal: a convert-time diagnostic matching ``refusal`` is then accepted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).parent / "notebooks"


@dataclass(frozen=True)
class Case:
    convert_error: str | None = None  # regex: convert must fail (exit 2) with this message
    bug: str | None = None  # xfail(strict) reason: a compiler/runtime bug, reported
    refusal: str | None = None  # regex: a convert diagnostic that would also be a fix
    warning: str | None = None  # regex: a hazard verify cannot see (it runs every step in
    # one process, uncached) that convert must report as a warning
    runs: tuple[dict[str, Any], ...] = ({},)  # parameter sets: {"params": ..., "args": ...}
    extra: dict[str, Any] = field(default_factory=dict)
    # verified again on the same runs folder (its cache) with these runner options, e.g.
    # {"jobs": 2, "force": True} or {"from_step": "b", "force": True}
    then: tuple[dict[str, Any], ...] = ()


CASES: dict[str, Case] = {
    # --- convert refuses: equivalence impossible, asserted -------------------------------
    "shared_function_param": Case(
        convert_error=r"cell 3, line 1: shared function 'scale' reads the parameter "
        r"'factor' as a global \(pass factor as an argument"
    ),
    "global_across_steps": Case(
        convert_error=r"cell 2, line 5: 'record' is defined inside step 'setup' because it "
        r"uses calls, log, so step 'work' cannot use it"
    ),
    "skip_defined_name": Case(
        convert_error=r"cell 3, line 2: 'threshold' is defined only in a skip cell \(cell 2\)"
    ),
    "dynamic_globals": Case(
        convert_error=r"cell 3, line 1: name 'dynamic' is used but never defined"
    ),
    # --- compiler / runtime bugs (see the report in the commit message) --------------------
    # --- hazards verify cannot see (one process, uncached): convert must warn --------------
    "alias_across_steps": Case(refusal=r"same object", warning=r"same object"),
    "class_state": Case(warning=r"'Registry', a shared definition"),
    # Found by this corpus and fixed since: heading_split (`if __name__ == "__main__":`
    # rewritten into a syntax error), shell_command (`!cmd` without `import subprocess`),
    # generator_shuffle (`np.random.default_rng(1).shuffle(order)` not seen as mutation),
    # closures (closures stored by value; calling a closure input changes it) and
    # conditional_definition (functions compared without their enclosing step function).
    # --- the global random streams carried from step to step, in workers and from the
    # cache: the steps of the chain rerun alone must continue the stored state ------------
    "random_forest_sections": Case(
        then=({"jobs": 2, "force": True}, {"only": ["b"], "force": True})
    ),
    "random_implicit_split": Case(
        then=(
            {"from_step": "train", "force": True},
            {"only": ["validate", "report"], "force": True},
        )
    ),
    "random_chain_branch": Case(then=({"jobs": 2, "force": True},)),
    "random_explicit_draws": Case(then=({"from_step": "second", "jobs": 2, "force": True},)),
    # --- parameters given to both runs ---------------------------------------------------
    "seed_parameter": Case(runs=({}, {"params": {"seed": 5}})),
    "kale_tuple_params": Case(
        runs=({}, {"args": ["sizes=[3, 1]", "limit=7", "name=other", 'weights={"c": 0.5}']})
    ),
    "derived_parameters": Case(runs=({}, {"params": {"root": "elsewhere", "stem": "x"}})),
}


def _ids() -> list[Any]:
    params = []
    for path in sorted(NOTEBOOKS.glob("*.py")):
        case = CASES.get(path.stem, Case())
        for i, run in enumerate(case.runs):
            marks = [pytest.mark.integration]
            if case.bug:
                marks.append(pytest.mark.xfail(strict=True, reason=case.bug))
            test_id = path.stem if i == 0 else f"{path.stem}-params{i}"
            params.append(pytest.param(path.stem, run, marks=marks, id=test_id))
    return params


def test_corpus_is_large_enough() -> None:
    assert len(list(NOTEBOOKS.glob("*.py"))) >= 25
    unknown = set(CASES) - {p.stem for p in NOTEBOOKS.glob("*.py")}
    assert not unknown, f"CASES names notebooks that do not exist: {unknown}"


@pytest.mark.parametrize(("name", "run"), _ids())
def test_fidelity(name: str, run: dict[str, Any], tmp_path: Path) -> None:
    case = CASES.get(name, Case())
    notebook = tmp_path / f"{name}.py"
    shutil.copy(NOTEBOOKS / notebook.name, notebook)
    if case.convert_error:
        _assert_convert_error(notebook, case.convert_error, tmp_path)
        return
    from nb2pipe.errors import Nb2pipeError
    from nb2pipe.verify import verify

    runs_dir = tmp_path / "runs"
    try:
        result = verify(
            notebook, params=run.get("params"), param_args=run.get("args", ()), runs_dir=runs_dir
        )
    except Nb2pipeError as exc:
        if case.refusal and re.search(case.refusal, str(exc)):
            return  # an honest refusal at convert time
        raise
    if not result.ok and case.refusal:
        if any(re.search(case.refusal, n) for n in result.notes):
            return  # convert warned about exactly this: accepted (--strict makes it fail)
    assert result.ok, result.summary()
    assert result.rows, "nothing was compared"
    if case.warning:
        assert any(re.search(case.warning, n) for n in result.notes), result.notes
    if run:
        given = {**run.get("params", {})}
        assert set(given) <= set(result.parameters)
    for options in case.then:
        again = verify(notebook, params=run.get("params"), param_args=run.get("args", ()),
                       runs_dir=runs_dir, run_options=options)  # fmt: skip
        assert again.ok, f"with {options}: {again.summary()}"


def _assert_convert_error(notebook: Path, pattern: str, cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nb2pipe.frontends.cli", "verify", str(notebook)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert str(notebook) in lines[0]  # names the file
