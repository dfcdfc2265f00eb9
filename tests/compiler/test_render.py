"""Safe rendering (SPEC section 3): values from a notebook reach generated code only as
literals that evaluate back to them, validated identifiers, one-line comments and
escaped docstrings. Property tests over arbitrary text and values."""

from __future__ import annotations

import ast
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2pipe.codegen import render

CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(values)
def test_py_value_evaluates_back_to_the_value(value):
    text = render.py_value(value)
    back = ast.literal_eval(text)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (float("nan"), 'float("nan")'),
        (float("inf"), 'float("inf")'),
        (float("-inf"), 'float("-inf")'),
        ((1,), "(1,)"),
        ((), "()"),
    ],
)
def test_py_value_special_cases(value, text):
    assert render.py_value(value) == text


@pytest.mark.parametrize("value", [{1, 2}, b"x", 1j, object()])
def test_py_value_refuses_non_literals(value):
    with pytest.raises(TypeError):
        render.py_value(value)


def _expected_doc(text: str) -> str:
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    return text + "\n" if "\n" in text else text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_docstring_is_a_literal_of_the_text(text):
    literal = render.docstring(text)
    value = ast.literal_eval(literal)
    if "\u2028" not in text and "\u2029" not in text:
        assert value == _expected_doc(text)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_indented_docstring_is_one_statement(text):
    source = f"def f():\n    {render.docstring(text, '    ')}\n    return 1\n"
    tree = ast.parse(source)
    body = tree.body[0].body  # type: ignore[attr-defined]
    assert len(body) == 2 and isinstance(body[0], ast.Expr)


@pytest.mark.parametrize("text", ['"""', 'a"', '"', '\\"', 'x""""y', "\\", 'end with """'])
def test_docstring_quotes_and_backslashes(text):
    assert ast.literal_eval(render.docstring(text)) == text


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_comment_is_one_line(text):
    line = render.comment(text)
    assert "\n" not in line and "\r" not in line
    assert ast.parse(f"x = 1  # {line}\n").body[0].lineno == 1
    assert len(ast.parse(f"x = 1  # {line}\ny = 2\n").body) == 2


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_md_cell_cannot_break_a_table_row(text):
    cell = render.md_cell(text)
    assert "\n" not in cell and "<" not in cell and "`" not in cell
    assert "|" not in cell.replace("\\|", "")


@pytest.mark.parametrize("name", ["x", "_x1", "größe", "Ünïcode"])
def test_ident_accepts_identifiers(name):
    assert render.ident(name) == name


@pytest.mark.parametrize("name", ["", "1x", "a-b", "a b", "x;import os", "class", "None"])
def test_ident_refuses_the_rest(name):
    with pytest.raises(ValueError):
        render.ident(name)


@settings(max_examples=100, deadline=None)
@given(values)
def test_yaml_value_reads_back(value):
    import yaml

    back = yaml.safe_load(render.yaml_value(value))
    expected = _listify(value)
    assert back == expected


def _listify(value):
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("value", ["\x85", "a\u2028b", "é", ["x\ny", ("t", 1)], {"k": "\x85"}])
def test_yaml_value_line_breaks_and_unicode(value):
    import yaml

    assert yaml.safe_load(render.yaml_value(value)) == _listify(value)
