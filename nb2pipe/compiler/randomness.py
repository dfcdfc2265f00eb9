"""Which steps draw from the global random streams, and the chain that carries them.

A notebook that seeds ``numpy.random`` or ``random`` once continues the stream from cell
to cell. The pipeline keeps that: the steps that draw from (or seed) a seeded stream form
a chain in notebook order, each reading the state the previous one left
(``__random_state__``, see ``nb2pipe.runtime.randomstate``). Seeds made before the first
step run once, at the start of the chain's first step, never again.

Draws are found in the code, including implicit ones: numpy's legacy functions,
``random.*``, scikit-learn estimators, splitters and dataset makers without
``random_state`` (and whatever is built from them), pandas' ``.sample()``, seaborn's
jittered plots, notebook functions that do any of these. A call into a library nb2pipe
knows nothing about may draw too, so it joins the chain (a step outside the chain that
draws anyway is reported by the runtime). Libraries with their own global generators
(torch, tensorflow) cannot be carried: their seeds are replayed per step, with a warning
when several steps use them.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from nb2pipe.compiler.analysed import (
    Analysis,
    ImportLine,
    Log,
    PreparedCell,
    RandomPlan,
    frozen_map,
)
from nb2pipe.compiler.model import Fragment
from nb2pipe.compiler.rules import (
    BUILTIN_NAMES,
    NOT_DRAWING,
    OWN_GENERATOR,
    OWN_SEEDS,
    RANDOM_SAFE,
    READ_ONLY_METHODS,
    SEABORN_RANDOM,
    SEEDS,
    SHUFFLE_ONLY,
    SKLEARN_RANDOM,
    dotted,
)
from nb2pipe.compiler.source import Editor

ANY = "*"  # an unknown call: may draw from any stream
OBJECT = "object"  # ... and it uses an object built without random_state
#: Methods of a random object that do not draw (CV splitters draw in split, mixtures in sample).
QUIET_METHODS = READ_ONLY_METHODS - {"split", "sample"}
COLLECT_METHODS = frozenset("append extend insert update setdefault add".split())


def qualified_names(pool: Mapping[str, ImportLine]) -> dict[str, str]:
    """Bound name -> what it names: np -> numpy, tts -> sklearn.model_selection.train_test_split."""
    out: dict[str, str] = {}
    for name, imp in pool.items():
        try:
            tree = ast.parse(imp.text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            for a in getattr(node, "names", ()):
                bound = (a.asname or a.name).split(".")[0]
                if bound != name or name in out:
                    continue
                if isinstance(node, ast.ImportFrom):
                    out[name] = f"{node.module}.{a.name}" if node.module else a.name
                else:
                    out[name] = a.name if a.asname else a.name.split(".")[0]
    return out


def seed_streams(stmt: ast.stmt, names: dict[str, str]) -> set[str]:
    """The global streams a statement like `np.random.seed(0)` seeds (empty if it is not
    one): they are carried, not replayed."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return set()
    name = dotted(stmt.value.func) or ""
    root, _, rest = name.partition(".")
    q = names.get(root, "") + ("." + rest if rest else "")
    if q.rsplit(".", 1)[-1] not in SEEDS:
        return set()
    if q.startswith("numpy.random."):
        return {"numpy"}
    return {"random"} if q.startswith("random.") else set()


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _unset(call: ast.Call, name: str) -> bool:
    """The keyword is not given (or is None); a ``**kwargs`` may give it: unset."""
    value = _kw(call, name)
    return value is None or (isinstance(value, ast.Constant) and value.value is None)


class Scanner:
    """Classifies calls: seeds, draws from a stream, unknown calls, random objects."""

    def __init__(self, an: Analysis) -> None:
        self.names = an.qualified
        self.defs: dict[str, ast.stmt] = {}
        for c in an.cells.values():
            for s in c.tree.body:
                if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    self.defs[s.name] = s
        self.drawing_defs: dict[str, set[str]] = {}
        self.random_names: set[str] = set()
        self._cells: dict[int, list[tuple[set[str], int]]] = {}
        flows = self._flows(list(an.cells.values()))
        self._quiet = False
        for _ in range(2):  # notebook classes that draw make random objects too
            self._propagate(flows)
            self._summarise_defs()
        self._quiet = not self.random_names and not any(
            self.constructs_random(n) for c in an.cells.values() for n in ast.walk(c.tree)
            if isinstance(n, ast.Call)
        )  # fmt: skip

    # -- what a call is -------------------------------------------------------------------
    def qualify(self, func: ast.expr) -> str | None:
        name = dotted(func)
        if not name:
            return None
        root, _, rest = name.partition(".")
        base = self.names.get(root)
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def constructs_random(self, call: ast.Call) -> bool:
        """A scikit-learn object without random_state, an unknown library's class or a
        notebook class that draws: what it is fitted or split with draws later."""
        q = self.qualify(call.func)
        last = (q or dotted(call.func) or "").rsplit(".", 1)[-1]
        if not last[:1].isupper():
            return False
        if q is None:
            return isinstance(call.func, ast.Name) and bool(self.drawing_defs.get(last))
        top = q.split(".")[0]
        if top == "sklearn":
            return last in SKLEARN_RANDOM and self._sklearn_draws(call, last)
        return top not in RANDOM_SAFE

    def _sklearn_draws(self, call: ast.Call, last: str) -> bool:
        if not _unset(call, "random_state"):
            return False
        if last in SHUFFLE_ONLY:
            shuffle = _kw(call, "shuffle")
            return shuffle is not None and not (
                isinstance(shuffle, ast.Constant) and not shuffle.value
            )
        return True

    def effects(self, call: ast.Call) -> set[str]:
        """ "seed:numpy", "seed:random", "numpy", "random", ANY, "lib:torch" ..."""
        func = call.func
        q = self.qualify(func)
        if q is not None:
            return self._library(call, q)
        if isinstance(func, ast.Name):
            if func.id in self.defs:
                return set(self.drawing_defs.get(func.id, set()))
            if func.id in BUILTIN_NAMES:
                return {ANY} if func.id in ("exec", "eval", "__import__") else set()
            return {ANY}  # a variable called: a function received as data
        if isinstance(func, ast.Attribute):
            method = func.attr
            if method in ("sample", "rvs") and _unset(call, "random_state"):
                return {"numpy"}
            if method not in QUIET_METHODS and self.mentions_random(func.value):
                return {ANY, OBJECT}
            if any(self.mentions_random(a) for a in self._args(call)):
                return {ANY, OBJECT}
            return set()
        return {ANY}

    def _library(self, call: ast.Call, q: str) -> set[str]:
        parts = q.split(".")
        top, last = parts[0], parts[-1]
        if q.startswith("numpy.random.") or top == "random":
            stream = "random" if top == "random" else "numpy"
            if last in SEEDS:
                return {f"seed:{stream}"}
            return set() if last in NOT_DRAWING or len(parts) < 2 else {stream}
        if top in OWN_GENERATOR:
            if last in OWN_SEEDS:
                return {f"seed:lib:{top}"}
            return {ANY, f"lib:{top}"}
        if last in OWN_SEEDS and top in ("lightning", "pytorch_lightning"):
            return {f"seed:lib:{top}"}
        found: set[str] = set()
        if any(self.mentions_random(a) for a in self._args(call)):
            found |= {ANY, OBJECT}  # an estimator without random_state, fitted by a library
        if top == "sklearn":
            if (
                last in SKLEARN_RANDOM
                and not last[:1].isupper()
                and self._sklearn_draws(call, last)
            ):
                found.add("numpy")
        elif top == "seaborn":
            if last in SEABORN_RANDOM:
                found.add("numpy")
        elif top == "pandas":
            if last == "sample" and _unset(call, "random_state"):
                found.add("numpy")
        elif top not in RANDOM_SAFE:
            found.add(ANY)
        return found

    @staticmethod
    def _args(call: ast.Call) -> list[ast.expr]:
        return list(call.args) + [k.value for k in call.keywords]

    def mentions_random(self, expr: ast.AST) -> bool:
        """Does the expression hold a random object (not just a read-only method's result)?"""
        if self._quiet:  # the notebook builds none
            return False
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name):
                if node.id in self.random_names:
                    return True
                continue
            if isinstance(node, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if isinstance(node, ast.Call):
                if self.constructs_random(node):
                    return True
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr in QUIET_METHODS:
                    stack.extend(self._args(node))  # model.predict(X): a value, not the model
                    continue
            stack.extend(ast.iter_child_nodes(node))
        return False

    # -- notebook-wide facts ----------------------------------------------------------------
    def _flows(self, cells: list[PreparedCell]) -> list[tuple[list[ast.expr], ast.expr, set[str]]]:
        """(targets, value, names the value reads) of every assignment-like node."""
        out = []
        for c in cells:
            for node in ast.walk(c.tree):
                targets: list[ast.expr] = []
                value: ast.expr | None = None
                if isinstance(node, ast.Assign):
                    targets, value = list(node.targets), node.value
                elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                    targets, value = [node.target], node.value
                elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                    targets, value = [node.target], node.iter
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in COLLECT_METHODS
                ):
                    targets = [node.func.value]
                    value = ast.Tuple(elts=self._args(node), ctx=ast.Load())
                if value is not None:
                    names = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
                    calls = any(isinstance(n, ast.Call) for n in ast.walk(value))
                    out.append((targets, value, names if not calls else names | {"()"}))
        return out

    def _propagate(self, flows: list[tuple[list[ast.expr], ast.expr, set[str]]]) -> None:
        """Names that hold random objects, by name across the notebook, to a fixpoint."""
        changed = True
        while changed:
            changed = False
            for targets, value, names in flows:
                if not (names & self.random_names or "()" in names):
                    continue  # neither a random name nor a call that could build one
                if not self.mentions_random(value):
                    continue
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name) and n.id not in self.random_names:
                            self.random_names.add(n.id)
                            changed = True

    def _summarise_defs(self) -> None:
        """What calling each notebook function or class may draw from, to a fixpoint."""
        changed = True
        while changed:
            changed = False
            for name, node in self.defs.items():
                found: set[str] = set()
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Call):
                        found |= self.effects(sub)
                if found - self.drawing_defs.get(name, set()):
                    self.drawing_defs[name] = self.drawing_defs.get(name, set()) | found
                    changed = True


def cell_effects(scanner: Scanner, tree: ast.AST, cache: bool = True) -> list[tuple[set[str], int]]:
    """(effects, line) of each call in a cell that has any (once per cell: the cells'
    trees live as long as the analysis, so their ids are stable keys)."""
    key = id(tree)
    if cache and key in scanner._cells:
        return scanner._cells[key]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found = scanner.effects(node)
            if found:
                out.append((found, node.lineno))
    if cache:
        scanner._cells[key] = out
    return out


def _streams(effects: set[str]) -> set[str]:
    return {e for e in effects if e in ("numpy", "random")}


def _label(stream: str) -> str:
    return "numpy.random" if stream == "numpy" else "random"


def plan(an: Analysis) -> Analysis:
    """The analysis with the chain of steps that draw from seeded global streams, in
    notebook order (``random``), the seeding statements of its settings moved to its
    ``seeds``, and what it found about randomness."""
    scanner = Scanner(an)
    log = Log()
    settings, seeds = _seeding_settings(an, scanner, log)
    chain: dict[str, tuple[str, ...]] = {}
    guard: dict[str, tuple[str, ...]] = {}
    source: dict[str, str] = {}
    carries: set[str] = set()
    placed: dict[str, tuple[Fragment, ...]] = {}
    pending = sorted(seeds, key=lambda s: s[0].cell)  # (fragment, streams) of imports cells
    seeded: set[str] = set()
    waiting: list[Fragment] = []
    prev: str | None = None
    for name, work in an.works.items():
        first = min((c.plan.cell.index for c in work.cells), default=0)
        while pending and pending[0][0].cell < first:
            frag, streams = pending.pop(0)
            waiting.append(frag)
            seeded |= streams
        calls = [(e, c.plan.cell.index, line) for c in work.cells
                 for e, line in cell_effects(scanner, c.tree)]  # fmt: skip
        effects = set().union(*(e for e, _, _ in calls))
        own = {e.split(":")[1] for e in effects if e in ("seed:numpy", "seed:random")}
        _note_unseeded(log, name, calls, seeded)
        here = seeded | own
        if own or _streams(effects) & here or (ANY in effects and here):
            chain[name] = tuple(sorted(here))
            if waiting:
                placed[name], waiting = tuple(waiting), []
            if prev is not None:
                source[name] = prev
                carries.add(prev)
            prev = name
        elif seeded:
            guard[name] = tuple(sorted(seeded))
        seeded = here
    if len(chain) > 1:
        log.note("the global random state is carried from step to step in notebook order: "
                 + " -> ".join(chain), None, None, "random-chain")  # fmt: skip
    _own_generators(an, settings, scanner, log)
    random = RandomPlan(
        frozen_map(chain),
        frozen_map(guard),
        frozen_map(source),
        frozenset(carries),
        frozen_map(placed),
    )
    return an.adding(log, settings=settings, seeds=seeds, random=random)


def _seeding_settings(
    an: Analysis, scanner: Scanner, log: Log
) -> tuple[tuple[Fragment, ...], tuple[tuple[Fragment, frozenset[str]], ...]]:
    """`set_seed(42)`, a notebook function seeding numpy or random, in an imports cell:
    it runs once too, like `np.random.seed(42)`, unless it also seeds a generator that
    cannot be carried (torch): then it is replayed in every step, with a warning.
    Returns the settings left and the seeds with those added."""
    kept: list[Fragment] = []
    seeds = list(an.seeds)
    for frag in an.settings:
        tree = ast.parse(frag.source)
        ed = Editor(frag.source)
        lines = frag.source.split("\n")
        for s in tree.body:
            effects: set[str] = set().union(*(e for e, _ in cell_effects(scanner, s, cache=False)))
            streams = {e.split(":")[1] for e in effects if e in ("seed:numpy", "seed:random")}
            if not streams:
                continue
            if any(e.startswith("seed:lib:") for e in effects) or not ed.remove(s, tree.body):
                log.warn(
                    f"cell {frag.cell} seeds the global random stream in a statement that is "
                    "replayed at the start of every step: the notebook continues the stream "
                    "from step to step, the pipeline restarts it (seed numpy and random in a "
                    "statement of their own)",
                    frag.cell,
                    None,
                    "global-random",
                )
                continue
            text = "\n".join(lines[s.lineno - 1 : s.end_lineno])
            seeds.append((Fragment(frag.cell, text), frozenset(streams)))
        rest = ed.result()
        if rest.strip():
            kept.append(Fragment(frag.cell, rest))
    return tuple(kept), tuple(seeds)


def _note_unseeded(
    log: Log, step: str, calls: list[tuple[set[str], int, int]], seeded: set[str]
) -> None:
    """The notebook itself gives other numbers on every run here: say so once per step
    (verify names this cell when the notebook differs from itself)."""
    seeded = set(seeded)
    for effects, cell, line in sorted(calls, key=lambda c: (c[1], c[2])):
        seeded |= {e.split(":")[1] for e in effects if e in ("seed:numpy", "seed:random")}
        loose = (_streams(effects) | ({"numpy"} if OBJECT in effects else set())) - seeded
        if loose:
            log.note(
                f"step {step!r} draws from the global random stream "
                f"({', '.join(_label(s) for s in sorted(loose))}) that nothing seeds before "
                "it: the notebook's own numbers change from run to run here",
                cell,
                line,
                "unseeded-random",
            )
            return


def _own_generators(
    an: Analysis, settings: tuple[Fragment, ...], scanner: Scanner, log: Log
) -> None:
    """torch's and tensorflow's global generators cannot be carried: a seed replayed per
    step gives the first step the notebook's numbers, not the later ones."""
    seeds: dict[str, int] = {}
    for frag in settings:
        try:
            tree = ast.parse(frag.source)
        except SyntaxError:
            continue
        for effects, _ in cell_effects(scanner, tree, cache=False):
            for e in effects:
                if e.startswith("seed:lib:"):
                    seeds.setdefault(e.rsplit(":", 1)[1], frag.cell)
    users: dict[str, list[tuple[str, int, int]]] = {}
    for name, work in an.works.items():
        for c in work.cells:
            for effects, line in cell_effects(scanner, c.tree):
                for e in effects:
                    lib = e.rsplit(":", 1)[1] if e.startswith(("lib:", "seed:lib:")) else ""
                    if e.startswith("seed:lib:"):
                        seeds.setdefault(lib, c.plan.cell.index)
                    elif lib in seeds and all(u[0] != name for u in users.get(lib, [])):
                        users.setdefault(lib, []).append((name, c.plan.cell.index, line))
    for lib, found in users.items():
        if len(found) > 1:
            step, cell, line = found[1]
            log.warn(
                f"step {step!r} draws from {lib}'s global random generator, seeded in cell "
                f"{seeds[lib]}: nb2pipe carries numpy's and random's state from step to step "
                f"but not {lib}'s, so this step may not get the notebook's numbers (seed {lib} "
                "at the start of each step that draws, or use a generator object)",
                cell,
                line,
                "random-uncarried",
            )
