"""Typos are never silent: `nb2pipe convert` (a real process) refuses near-misses of
nb2pipe's tags, directives that do not parse, invalid model names and undefined names,
each in one line with what was probably meant; other tools' tags pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_helpers import sh, write_notebook

LOAD = ("step:load", "values = [1, 2, 3]\nlearning_rate = 0.1")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (("skpi", "print(values)"), "cell 2: tag 'skpi' is not an nb2pipe tag (did you mean 'skip'?)"),
        (("validation", "assert values"), "tag 'validation' is not an nb2pipe tag (did you mean 'validate'?)"),
        (("setp:train", "total = sum(values)"), "(did you mean 'step:train'?)"),
        (("paramters", "n = 3"), "(did you mean 'parameters'?)"),
        (("", "# nb2pipe: skip\nprint(values)"), "cell 2, line 1: '# nb2pipe: skip' is not a directive (did you mean `#| nb2pipe: skip`?)"),
        ((["model:my model"], "m = {'w': values}"), "cell 2: model name 'my model' is not an identifier (letters, digits and '_', not starting with a digit) (did you mean model:my_model?)"),
        (("step:train", "w = learning_rat * 2"), "cell 2, line 1: name 'learning_rat' is used but never defined (did you mean 'learning_rate'?"),
    ],
)  # fmt: skip
@pytest.mark.integration
def test_convert_refuses_typos_in_one_line(tmp_path: Path, cell: tuple, expected: str) -> None:
    nb = write_notebook(tmp_path / "typo.ipynb", [LOAD, cell])
    result = sh(tmp_path, "nb2pipe", "convert", str(nb), "-o", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_other_tools_tags_convert_silently(tmp_path: Path) -> None:
    cells = [
        ("injected-parameters", "values = [9]"),
        (["step:load", "hide-input", "remove-output"], "values = [1, 2, 3]"),
        (["skip-execution", "limit:memory:4Gi"], "total = sum(values)"),
    ]
    nb = write_notebook(tmp_path / "tools.ipynb", cells)
    result = sh(tmp_path, "nb2pipe", "convert", str(nb), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
