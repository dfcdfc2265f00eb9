"""Functions a step uses but cannot import are generated inside it (compiler/copies.py),
and modules imported in a block of a step are imported again by the steps after it."""

from __future__ import annotations

import pytest

from nb2pipe.errors import AnalysisError


def _body(step) -> str:
    return "\n".join(f.source for f in step.body)


def test_function_of_a_step_reading_its_variables_is_defined_again_in_a_later_step(load_cells):
    cells = [("step:a", "k = 2\ndef f(x):\n    return x * k"), ("step:b", "r = f(3)")]
    pipe = load_cells(cells)
    b = pipe.step("b")
    assert b.inputs == {"k": "a"}  # what f reads, not f itself
    assert "def f(x):" in _body(b) and "from step 'a'" in _body(b)
    assert b.uses_steps == {}
    assert "k" in pipe.step("a").outputs and "f" not in pipe.step("a").outputs


def test_copied_function_reads_the_latest_value_of_a_rebound_global(load_cells):
    cells = [
        ("step:a", "k = 2\ndef f(x):\n    return x * k"),
        ("step:b", "k = 10"),
        ("step:c", "r = f(3)"),
    ]
    assert load_cells(cells).step("c").inputs == {"k": "b"}


def test_copied_function_brings_the_functions_it_calls_and_their_imports(load_cells):
    cells = [
        ("imports", "import math"),
        ("step:a", "k = 2\ndef g(x):\n    return math.sqrt(x) * k\ndef f(x):\n    return g(x)"),
        ("step:c", "r = f(4)"),
    ]
    c = load_cells(cells).step("c")
    body = _body(c)
    assert body.index("def g(x)") < body.index("def f(x)") < body.index("r = f(4)")
    assert "import math" in c.imports and c.inputs == {"k": "a"}


def test_function_writing_a_global_is_still_refused(load_cells):
    cells = [
        ("step:a", "n = 0\ndef bump():\n    global n\n    n += 1"),
        ("step:b", "bump()"),
    ]
    with pytest.raises(AnalysisError, match="'bump' is defined inside step 'a'"):
        load_cells(cells)


def test_shared_function_reading_a_parameter_takes_it_in_each_step(load_cells):
    cells = [
        ("parameters", "factor = 3"),
        ("functions", "def scale(v):\n    return v * factor\ndef twice(v):\n    return 2 * v"),
        ("step:a", "r = scale(2)"),
        ("step:b", "s = twice(r)"),
    ]
    pipe = load_cells(cells)
    a, b = pipe.step("a"), pipe.step("b")
    assert a.params == ("factor",) and "def scale(v):" in _body(a)
    assert "scale" not in a.uses_common and b.uses_common == ("twice",)
    common = "\n".join(f.source for f in pipe.common)
    assert "def twice" in common and "def scale" not in common


def test_shared_function_reading_a_step_variable_and_its_callers(load_cells):
    cells = [
        ("step:data", "X = [1, 2, 3]"),
        ("functions", "def total():\n    return sum(X)\ndef report():\n    return total() + 1"),
        ("step:use", "r = report()"),
    ]
    use = load_cells(cells).step("use")
    assert use.inputs == {"X": "data"}
    assert "def total" in _body(use) and "def report" in _body(use)


def test_shared_code_calling_a_function_that_reads_a_step_variable_is_refused(load_cells):
    cells = [
        ("step:data", "X = [1, 2]"),
        ("functions", "def total():\n    return sum(X)\nTOTAL = total()"),
        ("step:use", "r = TOTAL"),
    ]
    with pytest.raises(AnalysisError, match=r"shared code reads 'X', a variable the steps") as e:
        load_cells(cells)
    assert (e.value.cell, e.value.line) == (2, 3)


def test_shared_code_reading_a_step_variable_names_the_cell_defining_it(load_cells):
    cells = [("step:data", "X = [1, 2]"), ("functions", "N = len(X)"), ("step:use", "r = N")]
    with pytest.raises(AnalysisError, match=r"'X', a variable the steps define \(cell 1\)"):
        load_cells(cells)


def test_shared_function_reading_an_undefined_name_says_so(load_cells):
    cells = [("functions", "def f():\n    return nowhere"), ("step:use", "r = f()")]
    with pytest.raises(AnalysisError, match="shared function 'f' reads 'nowhere', which is never"):
        load_cells(cells)


def test_module_imported_in_a_block_of_a_step_is_imported_again_later(load_cells):
    cells = [
        ("step:a", "x = 1\nif x > 0:\n    import json"),
        ("step:b", "s = json.dumps([x])"),
    ]
    b = load_cells(cells).step("b")
    assert "import json" in b.imports and b.inputs == {"x": "a"}
