"""Safe rendering: the only way values from a notebook reach generated files.

Each kind of value has one small function (papermill's translators are the model): Python
literals through ``repr``, identifiers validated, comments kept on one line, docstrings
escaped, Markdown cells escaped. Templates never format user text themselves.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Iterable

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")
_QUOTE_RUN = re.compile(r'"(?=""|$)')
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def py_value(value: object) -> str:
    """A Python expression that evaluates to `value` (literals only)."""
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(py_value(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(py_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_value(k)}: {py_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a literal: {type(value).__name__}")


def ident(name: str) -> str:
    """A Python identifier (Unicode letters included, as the notebook may use them)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"not an identifier: {name!r}")
    return name


def comment(text: object) -> str:
    """Text safe inside a one-line comment."""
    return _CONTROL.sub("", _BREAKS.sub(" ", str(text))).strip()


def docstring(text: str, indent: str = "") -> str:
    """A triple-quoted string literal whose value is `text` (stripped)."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    text = _BREAKS.sub("\n", text) if "\u2028" in text or "\u2029" in text else text
    # Backslashes doubled, then a quote escaped where it would start `"""` or end the text:
    # no run of three quotes and no closing quote is left unescaped.
    body = _QUOTE_RUN.sub('\\\\"', text.replace("\\", "\\\\"))
    if indent:
        body = body.replace("\n", "\n" + indent)
    literal = f'"""{body}"""'
    if "\n" in body:
        literal = f'"""{body}\n{indent}"""'
    return literal


def md_cell(text: object) -> str:
    """Text safe in a Markdown table cell."""
    out = comment(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("`", "'")


def yaml_value(value: object) -> str:
    import yaml

    if isinstance(value, tuple):
        value = list(value)
    for readable in (True, False):  # Unicode as written, unless it does not read back
        dumped = yaml.safe_dump(  # keys in the notebook's order: code may iterate a dict
            value, default_flow_style=True, allow_unicode=readable, width=10**6, sort_keys=False
        ).strip()
        if dumped.endswith("\n..."):
            dumped = dumped[: -len("\n...")]
        dumped = dumped.removesuffix("...").strip()
        if readable and yaml.safe_load(dumped) != _yaml_form(value):
            continue  # PyYAML writes NEL (U+0085) raw, and reads it back as a space
        return dumped
    return dumped


def _yaml_form(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_yaml_form(v) for v in value]
    if isinstance(value, dict):
        return {k: _yaml_form(v) for k, v in value.items()}
    return value


def type_expr(ptype: str, optional: bool) -> str:
    base = ptype if ptype in ("int", "float", "bool", "str", "list", "dict", "tuple") else "Any"
    if optional and base != "Any":
        return f"{base} | None"
    return base


def join_imports(lines: Iterable[str]) -> list[str]:
    """Import lines with the ``from m import a`` / ``from m import b`` of one module joined
    into one statement where the first of them stands (``from m import a, b``), as a
    notebook writes them; other lines stay as they are, in order."""
    out: list[str] = []
    where: dict[tuple[str, int], int] = {}
    for line in lines:
        tree = ast.parse(line).body if "\n" not in line else []
        node = tree[0] if len(tree) == 1 else None
        if not isinstance(node, ast.ImportFrom) or any(a.name == "*" for a in node.names):
            out.append(line)
            continue
        key = (node.module or "", node.level)
        if key not in where:
            where[key] = len(out)
            out.append(line)
            continue
        first = ast.parse(out[where[key]]).body[0]
        assert isinstance(first, ast.ImportFrom)
        seen = {ast.unparse(a) for a in first.names}
        names = first.names + [a for a in node.names if ast.unparse(a) not in seen]
        out[where[key]] = ast.unparse(ast.ImportFrom(node.module, names, node.level))
    return out
