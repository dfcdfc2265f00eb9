"""Display settings: how pandas and numpy print, how plots look (``pd.set_option("display
...")``, ``np.set_printoptions``, ``plt.style.use``, ``sns.set_theme``, ``rcParams``).

They change no result. Unlike other process-wide settings, which every step replays, a
step replays a library's display settings only when it uses that library, and they are no
part of any step's cache key: codegen puts them in the package's ``display_settings.py``,
which the steps call and the runtime does not hash.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from nb2pipe.compiler.analysed import Analysis, StepAnalysis
from nb2pipe.compiler.model import Display, Fragment
from nb2pipe.compiler.rules import BUILTIN_NAMES, DISPLAY_CALLS, DISPLAY_TARGETS, dotted
from nb2pipe.compiler.source import Editor

LIBRARIES = ("pandas", "numpy", "plotting")
PLOTTING = ("matplotlib", "seaborn", "pandas.plotting")
PLOT_METHODS = frozenset({"plot", "hist", "boxplot"})  # pandas' plotting methods


def _qualify(node: ast.AST, names: Mapping[str, str]) -> str:
    name = dotted(node) or ""
    root, _, rest = name.partition(".")
    if root not in names:
        return ""
    return names[root] + ("." + rest if rest else "")


def library(stmt: ast.stmt, names: Mapping[str, str]) -> str | None:
    """The library a statement sets a display option of (None: not a display setting).
    ``names``: imported name -> what it names. A statement that reads anything but the
    library's own names and literals (a parameter, say) is not one."""
    found: str | None = None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        q = _qualify(stmt.value.func, names)
        found = DISPLAY_CALLS.get(q)
        if q in ("pandas.set_option", "pandas.options.set_option"):
            keys = stmt.value.args[::2]
            pandas = all(
                isinstance(k, ast.Constant) and str(k.value).startswith("display.") for k in keys
            )
            found = "pandas" if keys and pandas and not stmt.value.keywords else None
    elif isinstance(stmt, ast.Assign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        kinds = {_target_library(t, names) for t in targets}
        found = kinds.pop() if len(kinds) == 1 else None
    if found is None:
        return None
    roots = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    return found if roots <= set(names) | BUILTIN_NAMES else None


def _target_library(target: ast.expr, names: Mapping[str, str]) -> str | None:
    node = target.value if isinstance(target, ast.Subscript) else target
    q = _qualify(node, names)
    for prefix, lib in DISPLAY_TARGETS.items():
        if q == prefix or q.startswith(prefix + "."):
            return lib
    return None


def split(an: Analysis) -> Analysis:
    """The analysis with the display settings moved out of its settings, by library."""
    kept: list[Fragment] = []
    found: dict[str, list[Fragment]] = {}
    for frag in an.settings:
        tree = ast.parse(frag.source)
        ed = Editor(frag.source)
        lines = frag.source.split("\n")
        for s in tree.body:
            lib = library(s, an.qualified)
            if lib is None or not ed.remove(s, tree.body):
                continue
            text = "\n".join(lines[s.lineno - 1 : s.end_lineno])
            found.setdefault(lib, []).append(Fragment(frag.cell, text))
        rest = ed.result()
        if rest.strip():
            kept.append(Fragment(frag.cell, rest))
    if not found:
        return an
    display = tuple(Display(lib, tuple(found[lib])) for lib in LIBRARIES if lib in found)
    return an.adding((), settings=tuple(kept), display=display)


def reach(an: Analysis, w: StepAnalysis) -> tuple[set[str], bool]:
    """The names a step's code uses, with those the notebook functions it calls use, and
    whether it calls a plotting method (``df.plot()``)."""
    used: set[str] = set()
    plots = False
    for c in w.cells:
        for node in ast.walk(c.tree):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute) and node.attr in PLOT_METHODS:
                plots = True
    todo = [n for n in used if n in an.funcs]
    while todo:  # the functions it calls may use more
        info = an.funcs[todo.pop()]
        for n in (info.free | info.def_reads) - used:
            used.add(n)
            if n in an.funcs:
                todo.append(n)
    return used, plots


def uses(an: Analysis, w: StepAnalysis) -> tuple[str, ...]:
    """The libraries whose display settings the step replays: those its code uses."""
    if not an.display:
        return ()
    used, plots = reach(an, w)
    qualified = {an.qualified[n] for n in used if n in an.qualified}
    out = []
    for d in an.display:
        if d.library == "plotting":
            hit = plots or any(q.startswith(PLOTTING) for q in qualified)
        else:
            hit = any(q == d.library or q.startswith(d.library + ".") for q in qualified)
        if hit:
            out.append(d.library)
    return tuple(out)
