"""Editing cell source as text, guided by its syntax tree, so the user's code, comments
and layout survive: remove whole statements, replace spans, indent into a function body
without changing the value of multi-line strings."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class Editor:
    source: str
    removed: set[int] = field(default_factory=set)  # 1-based line numbers
    replacements: list[tuple[int, int, int, int, str]] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.source.split("\n")

    def remove(self, stmt: ast.stmt, siblings: list[ast.stmt]) -> bool:
        """Drop a whole statement (with its decorators). False if it shares a line."""
        first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        last = stmt.end_lineno or stmt.lineno
        for other in siblings:
            if other is stmt:
                continue
            o_first, o_last = other.lineno, other.end_lineno or other.lineno
            if o_first <= last and o_last >= first:
                return False
        self.removed.update(range(first, last + 1))
        return True

    def replace(self, node: ast.AST, text: str) -> None:
        self.replacements.append(
            (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text)  # type: ignore[attr-defined]
        )

    def insert_before(self, stmt: ast.stmt, comment: str) -> None:
        """Put a comment line above a statement, at its indentation."""
        line = self.lines[stmt.lineno - 1]
        indent = line[: len(line) - len(line.lstrip())]
        at = len(indent.encode("utf-8"))
        self.replacements.append((stmt.lineno, at, stmt.lineno, at, f"{comment}\n{indent}"))

    def result(self) -> str:
        lines = self.lines
        for sl, sc, el, ec, text in sorted(self.replacements, reverse=True):
            start = _char_col(lines[sl - 1], sc)
            end = _char_col(lines[el - 1], ec)
            merged = lines[sl - 1][:start] + text + lines[el - 1][end:]
            lines[sl - 1 : el] = [merged] + [None] * (el - sl)  # type: ignore[list-item]
        kept = [
            line
            for n, line in enumerate(lines, start=1)
            if n not in self.removed and line is not None
        ]
        while kept and not kept[0].strip():
            kept.pop(0)
        while kept and not kept[-1].strip():
            kept.pop()
        return "\n".join(kept)


def _char_col(line: str, byte_col: int) -> int:
    """ast gives UTF-8 byte offsets; convert to a character index."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def segment(source: str, node: ast.AST) -> str:
    return ast.get_source_segment(source, node) or ast.unparse(node)


def string_continuation_lines(source: str) -> set[int]:
    """Lines that continue a multi-line string: indenting them would change the string."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant | ast.JoinedStr) and (node.end_lineno or 0) > node.lineno:
            if isinstance(node, ast.JoinedStr) or isinstance(node.value, str | bytes):
                out.update(range(node.lineno + 1, (node.end_lineno or node.lineno) + 1))
    return out


def indent(source: str, prefix: str = "    ") -> str:
    """Indent code into a block, leaving multi-line string contents untouched."""
    keep = string_continuation_lines(source)
    return "\n".join(
        line if (n in keep or not line.strip()) else prefix + _without_formfeed(line)
        for n, line in enumerate(source.split("\n"), start=1)
    )


def _without_formfeed(line: str) -> str:
    """Python resets a line's indentation at a form feed in its leading whitespace: keep
    only what follows it, or the indented line would fall back to column 0."""
    body = line.lstrip(" \t\x0c")
    lead = line[: len(line) - len(body)]
    if "\x0c" in lead:
        lead = lead[lead.rindex("\x0c") + 1 :]
    return lead + body


def is_display(stmt: ast.stmt) -> bool:
    """A bare name, attribute or subscript (or a tuple of them): shown, not computed."""
    if not isinstance(stmt, ast.Expr):
        return False
    value = stmt.value
    items = value.elts if isinstance(value, ast.Tuple) else [value]
    return bool(items) and all(
        isinstance(v, ast.Name | ast.Attribute | ast.Subscript) for v in items
    )
