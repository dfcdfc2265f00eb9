"""`nb2pipe inspect --explain NAME` (issue 14 item 4), through the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nb2pipe.frontends.cli import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


CELLS = [
    ("step:load", "data = [3, 1, 2]"),
    ("step:order", "data.sort()\nfirst = data[0]"),
    ("step:report", "text = str(data)"),
]


def _explain(runner, write_nb, name: str) -> list[str]:
    nb = write_nb(CELLS, name="ex")
    result = runner.invoke(app, ["inspect", str(nb), "--explain", name])
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_explain_names_the_writer_the_mutating_call_and_the_readers(runner, write_nb):
    lines = _explain(runner, write_nb, "data")
    assert lines[0] == "step 'load' writes it at cell 1, line 1 (data = [3, 1, 2])"
    assert "'data' is an output of step 'load': step(s) 'order' read it" in lines
    assert "step 'order' changes it in place at cell 2, line 1 (data.sort())" in lines
    order_reads = next(line for line in lines if line.startswith("step 'order' reads it"))
    assert "an input, from step 'load'" in order_reads
    report = next(line for line in lines if line.startswith("step 'report' reads it"))
    assert "from step 'order', the last step that wrote or changed it" in report
    assert any("output of step 'order': it changes its input in place" in x for x in lines)


def test_explain_an_output_nothing_reads_and_an_unknown_name(runner, write_nb):
    assert _explain(runner, write_nb, "text")[-1] == (
        "'text' is an output of step 'report': nothing depends on this step, so it keeps "
        "what it defines"
    )
    assert _explain(runner, write_nb, "nowhere") == [
        "'nowhere' is neither read nor written by any step"
    ]
