"""The parameters cell (SPEC section 1): literal assignments become typed parameters;
anything else assigned there is a derived value computed from them."""

from __future__ import annotations

import ast
import io
import re
import tokenize

from nb2pipe.compiler.model import Derived, Diagnostic, Parameter
from nb2pipe.errors import AnalysisError

TYPES = {"int", "float", "bool", "str", "list", "dict", "tuple"}
SECRET_NAME = re.compile(r"password|passwd|secret|token|api_?key|credential", re.IGNORECASE)
TYPE_COMMENT = re.compile(r"^type:\s*([^\s#;,]+(?:\s*\|\s*None)?)\s*[;,]?\s*(.*)$")


def comments(source: str) -> dict[int, str]:
    """Line -> trailing comment text (without '#')."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return out


def _plain(value: object, depth: int = 0) -> bool:
    """A value a parameter can hold: None, bool, int, float, str, and lists, tuples and
    dicts of them (sets, bytes and complex numbers have no YAML or command-line form)."""
    if depth > 50:
        return False
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(
            (k is None or isinstance(k, bool | int | float | str)) and _plain(v, depth + 1)
            for k, v in value.items()
        )
    return False


def is_literal_cell(source: str) -> bool:
    """Only literal assignments to plain names (``n = 3``, ``lr: float = 0.1``,
    ``cols = ["a", "b"]``): the cell papermill users tag ``parameters``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for s in tree.body:
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            target, value = s.targets[0], s.value
        elif isinstance(s, ast.AnnAssign) and s.value is not None:
            target, value = s.target, s.value
        else:
            return False
        if not isinstance(target, ast.Name) or target.id.startswith("__"):
            return False
        try:
            if not _plain(ast.literal_eval(value)):
                return False
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    return bool(tree.body)


def _value_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    for t in (int, float, str, list, dict, tuple):
        if isinstance(value, t):
            return t.__name__
    return "Any"


def _annotation_type(node: ast.expr | None) -> tuple[str | None, bool]:
    """(type name, optional) from an annotation such as int, float | None, Optional[str]."""
    if node is None:
        return None, False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return "Any", False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [node.left, node.right]
        nones = [p for p in parts if isinstance(p, ast.Constant) and p.value is None]
        rest = [p for p in parts if p not in nones]
        if nones and len(rest) == 1:
            return _annotation_type(rest[0])[0], True
        return "Any", False
    if isinstance(node, ast.Subscript):
        base = (
            node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        )
        if base == "Optional":
            return _annotation_type(node.slice)[0], True
        base = base.lower()
        return (base if base in TYPES else "Any"), False
    if isinstance(node, ast.Name):
        return (node.id if node.id in TYPES else "Any"), False
    return "Any", False


def _type_comment(text: str) -> tuple[str | None, bool, str]:
    m = TYPE_COMMENT.fullmatch(text)
    if not m:
        return None, False, text
    try:
        t, optional = _annotation_type(ast.parse(m.group(1), mode="eval").body)
    except SyntaxError:
        return None, False, text
    return t, optional, m.group(2).strip()


def parse(
    stmts: list[ast.stmt], source: str, *, file: str, cell: int
) -> tuple[list[Parameter], list[Derived], list[ast.stmt], list[Diagnostic]]:
    """Split a parameters cell into parameters, derived values and the statements that
    compute the derived values (imports are left to the caller)."""
    notes = comments(source)
    params: list[Parameter] = []
    derived: list[Derived] = []
    derive_stmts: list[ast.stmt] = []
    diags: list[Diagnostic] = []
    seen: set[str] = set()
    literal_stmts: dict[str, ast.stmt] = {}
    for s in stmts:
        if isinstance(s, ast.Import | ast.ImportFrom):
            continue
        _no_dunder(s, file, cell)
        target = value = annotation = None
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            target, value = s.targets[0], s.value
        elif isinstance(s, ast.AnnAssign):
            target, value, annotation = s.target, s.value, s.annotation
        if isinstance(target, ast.Name) and value is not None and target.id not in seen:
            try:
                default = ast.literal_eval(value)
                literal = _plain(default)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                literal = False
            if literal and target.id not in {d.name for d in derived}:
                params.append(_parameter(target.id, default, annotation, s, notes, file, cell))
                literal_stmts[target.id] = s
                seen.add(target.id)
                continue
        if isinstance(s, ast.AnnAssign) and s.value is None:
            diags.append(Diagnostic("note", "annotation without a value ignored", cell, s.lineno))
            continue
        derive_stmts.append(s)
        for node in ast.walk(s):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if node.id in literal_stmts:
                    diags.append(
                        Diagnostic(
                            "note",
                            f"parameter {node.id!r} is reassigned in its own cell: derived",
                            cell,
                            s.lineno,
                        )
                    )
                    params = [p for p in params if p.name != node.id]
                    # `n = 1` then `n = n + 1`: the derived value starts from the literal.
                    derive_stmts.append(literal_stmts.pop(node.id))
                if node.id not in {d.name for d in derived}:
                    derived.append(Derived(node.id, cell, s.lineno))
                seen.add(node.id)
    derive_stmts.sort(key=lambda stmt: stmt.lineno)
    return params, derived, derive_stmts, diags


def _no_dunder(stmt: ast.stmt, file: str, cell: int) -> None:
    """`__name__ = "x"` in a parameters cell would be a parameter overriding the module's
    own name (and `-p __name__=...` the runtime's): refused."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            if node.id.startswith("__") and node.id.endswith("__"):
                raise AnalysisError(
                    f"parameter {node.id!r} is a dunder name, reserved by Python",
                    file=file,
                    cell=cell,
                    line=node.lineno,
                    hint=f"rename it, e.g. {node.id.strip('_') or 'value'}",
                )


def _parameter(
    name: str,
    default: object,
    annotation: ast.expr | None,
    stmt: ast.stmt,
    notes: dict[int, str],
    file: str,
    cell: int,
) -> Parameter:
    comment = notes.get(stmt.lineno) or notes.get(stmt.end_lineno or stmt.lineno, "")
    ann_type, optional = _annotation_type(annotation)
    tc_type, tc_optional, help_text = _type_comment(comment)
    declared = ann_type or tc_type
    optional = optional or tc_optional or default is None
    value_type = _value_type(default) if default is not None else "Any"
    ptype = declared or value_type
    if declared and declared != "Any" and default is not None:
        ok = value_type == declared or (declared == "float" and value_type == "int")
        if not ok:
            raise AnalysisError(
                f"parameter {name!r} is declared {declared} but its default is {value_type}",
                file=file,
                cell=cell,
                line=stmt.lineno,
                hint="make the default match the type",
            )
        if declared == "float" and isinstance(default, int):
            default = float(default)
    secret = bool(SECRET_NAME.search(name)) or bool(re.search(r"\bsecret\b", comment, re.I))
    if secret:
        help_text = re.sub(r"\s*\bsecret\b\s*[:,-]?\s*", " ", help_text, flags=re.I).strip()
    return Parameter(
        name=name,
        type=ptype,
        default=None if secret else default,
        optional=optional,
        help=" ".join(help_text.split())[:200],
        secret=secret,
        env=name.upper() if secret else None,
        cell=cell,
        line=stmt.lineno,
    )
