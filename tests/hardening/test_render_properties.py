"""Properties of the safe renderers, the only way notebook values reach generated files
(nb2pipe.codegen.render and tags.step_name), over arbitrary text and literal values."""

from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2pipe.codegen import render
from nb2pipe.compiler.tags import step_name
from nb2pipe.errors import TagError

FAST = settings(max_examples=300, deadline=None)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)
keys = st.one_of(st.none(), st.booleans(), st.integers(-100, 100), st.text(max_size=8))
literals = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=12,
)


def same(a: object, b: object) -> bool:
    """Equality that also holds for NaN, and tells 1 from 1.0 and True, tuple from list."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )  # type: ignore[arg-type]
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)  # type: ignore[call-overload,index]
    return a == b


SAFE_NODES = (
    ast.Expression,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.UnaryOp,
    ast.USub,
    ast.Load,
)


def only_literal_nodes(tree: ast.AST) -> bool:
    """A literal, or float("nan") / float("inf") / float("-inf") and nothing else."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            ok = (
                isinstance(node.func, ast.Name)
                and node.func.id == "float"
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in ("nan", "inf", "-inf")
                and not node.keywords
            )
            if not ok:
                return False
        elif not isinstance(node, SAFE_NODES + (ast.Name,)):
            return False
        elif isinstance(node, ast.Name) and node.id != "float":
            return False
    return True


@FAST
@given(value=literals)
def test_py_value_is_a_literal_that_evaluates_back(value: object) -> None:
    text = render.py_value(value)
    tree = ast.parse(text, mode="eval")
    assert only_literal_nodes(tree), text
    back = eval(compile(tree, "<value>", "eval"), {"__builtins__": {}, "float": float})  # noqa: S307 - checked above
    assert same(back, value), (value, text)


@FAST
@given(text=st.text(), indent=st.sampled_from(["", "    ", "        "]))
def test_docstring_is_one_string_literal(text: str, indent: str) -> None:
    literal = render.docstring(text, indent)
    source = f"def f():\n{indent or '    '}{literal}\n" if indent else literal + "\n"
    toks = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type == tokenize.STRING
    ]
    assert len(toks) == 1, source
    value = ast.literal_eval(toks[0].string)
    assert isinstance(value, str)
    assert not re.search(r"[\x00-\x08\x0e-\x1f\x7f\r]", value)


@FAST
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_docstring_keeps_ordinary_text_exactly(text: str) -> None:
    """Quotes and backslashes survive: the docstring's value is the text itself."""
    value = ast.literal_eval(render.docstring(text))
    if "\n" not in text:
        assert value == text.strip()


@FAST
@given(text=st.text())
def test_comment_stays_one_comment(text: str) -> None:
    line = f"x = 1  # {render.comment(text)}\ny = 2\n"
    kinds = [t.type for t in tokenize.generate_tokens(io.StringIO(line).readline)]
    assert kinds.count(tokenize.COMMENT) == 1
    assert ast.parse(line).body[1].targets[0].id == "y"  # type: ignore[attr-defined]


@FAST
@given(text=st.text())
def test_markdown_cell_stays_in_its_cell(text: str) -> None:
    out = render.md_cell(text)
    assert "\n" not in out and "\r" not in out and "<" not in out and "`" not in out
    assert not re.search(r"(?<!\\)\|", out)


@FAST
@given(value=literals.filter(lambda v: not isinstance(v, float) or math.isfinite(v)))
def test_yaml_value_reads_back(value: object) -> None:
    def as_yaml(v: object) -> object:
        if isinstance(v, tuple | list):
            return [as_yaml(x) for x in v]
        if isinstance(v, dict):
            return {k: as_yaml(x) for k, x in v.items()}
        return v

    def finite(v: object) -> bool:
        if isinstance(v, float):
            return math.isfinite(v)
        if isinstance(v, list | tuple):
            return all(finite(x) for x in v)
        if isinstance(v, dict):
            return all(finite(x) for x in v.values())
        return True

    if not finite(value):
        return
    dumped = render.yaml_value(value)
    assert same(yaml.safe_load(f"v: {dumped}  # help")["v"], as_yaml(value))


@FAST
@given(raw=st.text(max_size=100))
def test_accepted_step_names_are_safe_identifiers(raw: str) -> None:
    try:
        name = step_name(raw, file="nb.ipynb", cell=1)
    except TagError as exc:
        assert "\n" not in str(exc)
        return
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,79}", name)
    assert not keyword.iskeyword(name) and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("bad", ["class", "None", "../x", "a b", "x\ny", "", "1a", "a.b", "a;b"])
def test_ident_refuses_what_is_not_an_identifier(bad: str) -> None:
    with pytest.raises(ValueError):
        render.ident(bad)
