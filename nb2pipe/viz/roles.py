"""``nb2pipe tag``'s role proposals: ``parameters``, ``imports``, ``skip`` and ``metrics``
for cells that carry no nb2pipe tag yet (step tags are proposed by :mod:`.tagger`).

- **parameters**: when no cell is tagged so, the first code cell that is not only imports
  and holds only literal assignments (papermill's parameters cell);
- **imports**: a cell of imports only (and process-wide settings);
- **skip**: a cell that only looks at data: plots (``plt.*``, ``sns.*``, ``df.plot(...)``,
  ``df.hist()``), ``.head()``, ``.describe()``, ``.info()``, ``display(...)``, bare names,
  when nothing it assigns is read by a later cell (``plt.savefig`` is kept: it writes a file);
- **metrics**: a cell after the first pipeline cell that only shows names (bare, in a tuple
  or printed) whose names all look like metrics (``accuracy``, ``rmse``, ``val_loss``...).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from nb2pipe.compiler import magics, params, tags
from nb2pipe.compiler.model import Notebook
from nb2pipe.runtime.metrics import LOWER_WORDS

PLOT_MODULES = {"plt", "sns", "px", "go", "alt", "pyplot", "seaborn", "plotly"}
PLOT_METHODS = {"plot", "hist", "boxplot", "scatter", "bar", "barh", "imshow", "heatmap",
                "pairplot", "show", "figure", "subplots", "legend", "title", "xlabel",
                "ylabel", "tight_layout", "set_title", "set_xlabel", "set_ylabel"}  # fmt: skip
LOOK_METHODS = {"head", "tail", "describe", "info", "sample", "value_counts", "nunique",
                "isna", "isnull", "corr", "unique", "display"}  # fmt: skip
LOOK_CALLS = {"display"}
HIGHER_WORDS = {"accuracy", "acc", "score", "auc", "roc", "f1", "precision", "recall", "r2",
                "kappa", "mcc", "iou", "dice", "silhouette", "ap", "ndcg"}  # fmt: skip
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass(frozen=True)
class RoleProposal:
    cell: int  # 1-based, counting every cell
    tag: str
    reason: str


def _tree(source: str, file: str, cell: int) -> ast.Module | None:
    try:
        return ast.parse(magics.transform(source, file=file, cell=cell).source)
    except Exception:  # noqa: BLE001 - a cell we cannot read gets no proposal
        return None


def _call_parts(node: ast.AST) -> tuple[str, str]:
    """(the root name, the last attribute or name) of a call such as plt.figure(...)."""
    f = node.func if isinstance(node, ast.Call) else node
    last = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    while isinstance(f, ast.Attribute | ast.Call | ast.Subscript):
        f = f.func if isinstance(f, ast.Call) else f.value
    return getattr(f, "id", ""), last


def _looks(expr: ast.expr) -> bool:
    """An expression that only shows something: a plot, a peek at data, a bare name."""
    if isinstance(expr, ast.Name | ast.Attribute | ast.Subscript):
        return True
    if not isinstance(expr, ast.Call):
        return False
    root, last = _call_parts(expr)
    if last == "savefig":
        return False
    return (
        root in PLOT_MODULES
        or last in PLOT_METHODS
        or last in LOOK_METHODS
        or (root in LOOK_CALLS and root == last)
        or any(
            isinstance(n, ast.Attribute) and n.attr == "plot" for n in ast.walk(expr.func)
        )  # df.plot.bar(...)
    )


def _skip_reason(tree: ast.Module, later_reads: set[str]) -> str | None:
    shown: list[str] = []
    for s in tree.body:
        if isinstance(s, ast.Expr) and _looks(s.value):
            shown.append(_call_parts(s.value)[1] or "a value")
        elif isinstance(s, ast.Assign) and _looks(s.value) and isinstance(s.value, ast.Call):
            names = {n.id for t in s.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if names & later_reads:
                return None
            shown.append(_call_parts(s.value)[1])
        else:
            return None
    if not shown:
        return None
    return "only shows data: " + ", ".join(dict.fromkeys(shown))


def is_metric_name(name: str) -> bool:
    words = {w.lower() for part in re.split(r"[_\-.\s]+", name) for w in _WORD.findall(part)}
    return bool(words & (LOWER_WORDS | HIGHER_WORDS))


def _metric_names(tree: ast.Module) -> list[str] | None:
    names: list[str] = []
    for s in tree.body:
        if not isinstance(s, ast.Expr):
            return None
        v = s.value
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "print":
            inner = [n for a in v.args for n in ast.walk(a)]
            if any(isinstance(n, ast.Call) for n in inner):
                return None
            found = [n.id for n in inner if isinstance(n, ast.Name)]
        else:
            items = v.elts if isinstance(v, ast.Tuple) else [v]
            if not all(isinstance(i, ast.Name) for i in items):
                return None
            found = [i.id for i in items]  # type: ignore[attr-defined]
        if not found:
            return None
        names += found
    return names if names and all(is_metric_name(n) for n in names) else None


def _reads(tree: ast.Module | None) -> set[str]:
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def propose(nb: Notebook) -> list[RoleProposal]:
    """Role tags for the cells of ``nb`` that have none of nb2pipe's tags."""
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    ours = {c.index for c in code if _has_ours(c.tags, c.source)}
    trees = {c.index: _tree(c.source, nb.path, c.index) for c in code}
    has_params = any(
        t.lower() in ("parameters", "pipeline-parameters") for c in code for t in c.tags
    )
    out: list[RoleProposal] = []
    seen_pipeline = False
    for pos, c in enumerate(code):
        tree = trees[c.index]
        if c.index in ours or tree is None:
            seen_pipeline = seen_pipeline or c.index in ours
            continue
        later = set().union(*(_reads(trees[d.index]) for d in code[pos + 1 :]))
        if tags._only_imports(c.source):
            out.append(RoleProposal(c.index, "imports", "imports only"))
        elif not has_params and not seen_pipeline and params.is_literal_cell(c.source):
            has_params = True
            out.append(RoleProposal(c.index, "parameters", "literal assignments"))
        elif seen_pipeline and (names := _metric_names(tree)) is not None:
            out.append(RoleProposal(c.index, "metrics", "shows " + ", ".join(names)))
        elif (why := _skip_reason(tree, later)) is not None:
            out.append(RoleProposal(c.index, "skip", why))
        else:
            seen_pipeline = True
    return out


def _has_ours(cell_tags: tuple[str, ...], source: str) -> bool:
    words = [*cell_tags, *tags.directive_words(source)]
    return any(
        w.strip().lower() in tags.ROLE_TAGS
        or w.strip().lower().startswith((*tags.STEP_PREFIXES, *tags.AFTER_PREFIXES, "model:"))
        for w in words
    )
