"""Python scoping for notebook cells: what a block of top-level code reads, binds and
changes, in order, with real scopes (functions, lambdas, classes, comprehensions,
``global``/``nonlocal``, walrus) and mutation through aliases.

The notebook's module level is walked statement by statement, because order matters there
(a name read before it is bound is an input). Function bodies are summarised: the globals
they read when called, the globals they bind or change, and which of their parameters
they change in place.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from nb2pipe.compiler.rules import (
    BUILTIN_NAMES,
    MUTATING_FUNCTIONS,
    MUTATING_METHODS,
    READ_ONLY_METHODS,
    root_name,
)

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
ALIAS_CALLS = frozenset("list tuple zip enumerate iter reversed sorted filter next chain".split())
ALIAS_METHODS = frozenset("values items get keys copy".split()) - {"copy"}


@dataclass
class FuncInfo:
    """Summary of a function (or class) defined at the notebook's top level."""

    name: str
    cell: int
    line: int
    params: list[str] = field(default_factory=list)
    free: set[str] = field(default_factory=set)  # globals read when called
    def_reads: set[str] = field(default_factory=set)  # read when defined
    global_writes: set[str] = field(default_factory=set)
    global_mutations: set[str] = field(default_factory=set)
    mutated_params: set[str] = field(default_factory=set)
    returned_params: set[str] = field(default_factory=set)  # `return x`: the call is x
    is_class: bool = False
    kwonly: list[str] = field(default_factory=list)
    vararg: str | None = None  # *args
    kwarg: str | None = None  # **kwargs


@dataclass
class Read:
    line: int
    cell: int
    maybe_bound: bool  # bound earlier in the block on some path, but not on all


@dataclass
class Facts:
    """What a block of top-level statements does with names, in order."""

    reads: dict[str, Read] = field(default_factory=dict)
    binds: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (cell, line)
    must: set[str] = field(default_factory=set)
    mutated: dict[str, tuple[int, int]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    unknown_methods: list[tuple[str, str, int, int]] = field(default_factory=list)
    imported: set[str] = field(default_factory=set)
    touched: dict[str, set[int]] = field(default_factory=dict)  # name -> cells binding/changing it


# ---------------------------------------------------------------- generic scope analysis


def _target_names(node: ast.AST) -> Iterable[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Tuple | ast.List):
        for elt in node.elts:
            yield from _target_names(elt)
    elif isinstance(node, ast.Starred):
        yield from _target_names(node.value)


def _pattern_names(node: ast.AST) -> Iterable[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name:
            yield sub.name
        elif isinstance(sub, ast.MatchMapping) and sub.rest:
            yield sub.rest


def _arg_names(args: ast.arguments) -> list[str]:
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append(args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


def _def_time_nodes(node: ast.AST) -> list[ast.AST]:
    """Parts of a def/class/lambda evaluated in the enclosing scope."""
    out: list[ast.AST] = []
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        a = node.args
        out += [d for d in a.defaults + a.kw_defaults if d is not None]
        if not isinstance(node, ast.Lambda):
            out += node.decorator_list
            for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
                if arg is not None and arg.annotation is not None:
                    out.append(arg.annotation)
            if node.returns is not None:
                out.append(node.returns)
    elif isinstance(node, ast.ClassDef):
        out += node.decorator_list + node.bases + [k.value for k in node.keywords]
    return out


class _LocalCollector(ast.NodeVisitor):
    """Names a function scope binds (which makes them local everywhere in it)."""

    def __init__(self) -> None:
        self.stored: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.stored.add(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocals.update(node.names)

    def _scope(self, node: ast.AST) -> None:
        if not isinstance(node, ast.Lambda):
            self.stored.add(node.name)  # type: ignore[attr-defined]
        for sub in _def_time_nodes(node):
            self.visit(sub)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _scope

    def _comp(self, node: ast.AST) -> None:
        self.visit(node.generators[0].iter)  # type: ignore[attr-defined]
        for sub in ast.walk(node):  # walrus in a comprehension binds here
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.stored.add(sub.target.id)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comp

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.stored.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.stored.add(node.name)
        self.generic_visit(node)

    def visit_match_case(self, node: ast.match_case) -> None:
        self.stored.update(_pattern_names(node.pattern))
        self.generic_visit(node)


def free_names(node: ast.AST) -> tuple[set[str], set[str]]:
    """(free names, names declared global and bound) of a function, lambda, class or
    comprehension: the names it takes from outside when it runs."""
    if isinstance(node, COMPS):
        local: set[str] = set()
        for gen in node.generators:
            local.update(_target_names(gen.target))
        inner: list[ast.AST] = [node.generators[0].target]
        inner += [g.target for g in node.generators[1:]] + [g.iter for g in node.generators[1:]]
        for g in node.generators:
            inner += g.ifs
        inner += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        # `[y for x in xs if (y := f(x))]`: the walrus binds y outside, before elt reads it.
        walrus = {
            n.target.id
            for part in inner
            for n in ast.walk(part)
            if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)
        }
        free, gw = _free_in(inner, local | walrus, function_scope=True)
        return free, gw
    body: list[ast.AST]
    if isinstance(node, ast.Lambda):
        params, body = _arg_names(node.args), [node.body]
    elif isinstance(node, ast.ClassDef):
        params, body = [], list(node.body)
    else:
        params, body = _arg_names(node.args), list(node.body)  # type: ignore[attr-defined]
    col = _LocalCollector()
    for stmt in body:
        col.visit(stmt)
    local = (set(params) | col.stored) - col.globals - col.nonlocals
    free, gw = _free_in(body, local, function_scope=not isinstance(node, ast.ClassDef))
    gw |= col.globals & col.stored
    free |= col.nonlocals
    return free, gw


def _free_in(nodes: list[ast.AST], local: set[str], function_scope: bool) -> tuple[set, set]:
    free: set[str] = set()
    gw: set[str] = set()
    stack = list(nodes)
    while stack:
        n = stack.pop()
        if n is None:
            continue
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Load) and n.id not in local:
                free.add(n.id)
            continue
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            # `x += 1` reads x before it binds it: a global (or nonlocal) x is read.
            if n.target.id not in local:
                free.add(n.target.id)
        if isinstance(n, SCOPES + COMPS):
            inner_free, inner_gw = free_names(n)
            gw |= inner_gw
            # A class body's names are not visible to the functions nested in it.
            free |= inner_free - (local if function_scope else set())
            if isinstance(n, COMPS):
                stack.append(n.generators[0].iter)
            else:
                stack.extend(_def_time_nodes(n))
            continue
        stack.extend(ast.iter_child_nodes(n))
    return free, gw


# ---------------------------------------------------------------- mutation in function bodies


def summarize(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    cell: int,
    funcs: dict[str, FuncInfo] | None = None,
) -> FuncInfo:
    """Summarise a top-level def or class for its callers. `funcs` (the notebook functions
    defined before it) carry mutation through calls: a function that passes its parameter
    to one that changes it changes it too."""
    info = FuncInfo(node.name, cell, node.lineno, is_class=isinstance(node, ast.ClassDef))
    free, gw = free_names(node)
    info.free = free - {node.name}
    info.global_writes = gw
    for sub in _def_time_nodes(node):
        info.def_reads |= {n.id for n in ast.walk(sub) if isinstance(n, ast.Name)}
    if isinstance(node, ast.ClassDef):
        info.free -= info.def_reads - info.free  # bases are read at definition only
        return info
    info.params = [a.arg for a in node.args.posonlyargs + node.args.args]
    info.kwonly = [a.arg for a in node.args.kwonlyargs]
    info.vararg = node.args.vararg.arg if node.args.vararg else None
    info.kwarg = node.args.kwarg.arg if node.args.kwarg else None
    params = set(_arg_names(node.args))
    col = _LocalCollector()
    for stmt in node.body:
        col.visit(stmt)
    local = (params | col.stored) - col.globals
    aliases: dict[str, set[str]] = {p: {p} for p in params}
    for sub in ast.walk(node):
        for name in _changed_by(sub, aliases, funcs, local):
            for base in {name} | aliases.get(name, set()):
                if base in params:
                    info.mutated_params.add(base)
                elif base not in local:
                    info.global_mutations.add(base)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Return):
            info.returned_params |= alias_sources(sub.value, aliases, funcs) & params
    return info


def _changed_by(
    sub: ast.AST, aliases: dict[str, set[str]], funcs: dict[str, FuncInfo] | None, local: set[str]
) -> list[str]:
    """Names a node of a function body changes in place (and the aliases it makes, kept
    in `aliases`): `x[0] = 1`, `x.a = 1`, `x += 1`, `x.append(1)`, `f(x)` with f changing it."""
    changed: list[str] = []
    if isinstance(sub, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Delete):
        targets = sub.targets if isinstance(sub, ast.Assign | ast.Delete) else [sub.target]
        for t in targets:
            if isinstance(t, ast.Subscript | ast.Attribute):
                changed.append(root_name(t) or "")
            elif isinstance(sub, ast.AugAssign) and isinstance(t, ast.Name):
                changed.append(t.id)
        if isinstance(sub, ast.Assign) and sub.value is not None:
            src = alias_sources(sub.value, aliases, funcs)
            for t in sub.targets:
                for name in _target_names(t):
                    aliases[name] = src | aliases.get(name, set())
    elif isinstance(sub, ast.For):
        src = alias_sources(sub.iter, aliases)
        for name in _target_names(sub.target):
            aliases[name] = src | aliases.get(name, set())
    elif isinstance(sub, ast.Call):
        changed += call_mutations(sub)
        callee = sub.func.id if isinstance(sub.func, ast.Name) else None
        if funcs and callee in funcs and callee not in local:
            for arg in arg_mutations(sub, funcs[callee]):
                changed += expr_names(arg)
    return changed


def call_mutations(call: ast.Call) -> list[str]:
    """Names a call changes in place by itself (method, inplace=True, mutating function)."""
    out = []
    func = call.func
    inplace = any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )
    if isinstance(func, ast.Attribute):
        root = root_name(func.value)
        if root and (func.attr in MUTATING_METHODS or inplace):
            out.append(root)
    # shuffle(x), np.random.shuffle(x), np.random.default_rng(1).shuffle(x): the last name
    # decides, whatever the prefix (a module, an object or a call's result).
    last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if last in MUTATING_FUNCTIONS and call.args:
        out += expr_names(call.args[0])
    return out


def expr_names(expr: ast.AST) -> list[str]:
    """Names whose objects an argument expression passes: `x`, `x[0]`, `x.a`, `[a, b]`."""
    names = alias_sources(expr, {})
    root = root_name(expr)
    if root:
        names.add(root)
    return sorted(names)


def arg_mutations(call: ast.Call, info: FuncInfo) -> list[ast.expr]:
    """The argument expressions of a call bound to parameters the function changes."""
    return bound_args(call, info, info.mutated_params)


def bound_args(call: ast.Call, info: FuncInfo, changed: set[str]) -> list[ast.expr]:
    """The argument expressions of a call bound to the parameters ``changed``."""
    if not changed:
        return []
    out: list[ast.expr] = []
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):  # f(*xs): any parameter from here on
            if set(info.params[i:]) & changed or info.vararg in changed:
                out.append(arg.value)
        elif i < len(info.params):
            if info.params[i] in changed:
                out.append(arg)
        elif info.vararg in changed:
            out.append(arg)
    for k in call.keywords:
        if k.arg is None:  # f(**kw)
            out.append(k.value)
        elif k.arg in changed or (
            info.kwarg in changed and k.arg not in info.params and k.arg not in info.kwonly
        ):
            out.append(k.value)
    return out


def alias_sources(
    expr: ast.AST | None, aliases: dict[str, set[str]], funcs: Mapping[str, FuncInfo] | None = None
) -> set[str]:
    """Names whose objects the value of `expr` may be (or contain); ``funcs``: the
    notebook's functions, whose call may return an argument (`def f(x): return x`)."""
    if expr is None:
        return set()
    if isinstance(expr, ast.Name):
        return {expr.id} | aliases.get(expr.id, set())
    if isinstance(expr, ast.Tuple | ast.List | ast.Set):
        return set().union(*(alias_sources(e, aliases, funcs) for e in expr.elts))
    if isinstance(expr, ast.Dict):
        return set().union(*(alias_sources(v, aliases, funcs) for v in expr.values))
    if isinstance(expr, ast.Subscript | ast.Attribute | ast.Starred):
        return alias_sources(expr.value, aliases, funcs)
    if isinstance(expr, ast.NamedExpr):
        return alias_sources(expr.value, aliases, funcs)
    if isinstance(expr, ast.IfExp):
        return alias_sources(expr.body, aliases, funcs) | alias_sources(expr.orelse, aliases, funcs)
    if isinstance(expr, ast.BoolOp):
        return set().union(*(alias_sources(v, aliases, funcs) for v in expr.values))
    if isinstance(expr, ast.Call):
        f = expr.func
        if isinstance(f, ast.Name) and f.id in ALIAS_CALLS:
            return set().union(*(alias_sources(a, aliases, funcs) for a in expr.args))
        if funcs and isinstance(f, ast.Name) and f.id in funcs:
            returned = bound_args(expr, funcs[f.id], funcs[f.id].returned_params)
            return set().union(*(alias_sources(a, aliases, funcs) for a in returned))
        if isinstance(f, ast.Attribute) and f.attr in ALIAS_METHODS:
            return alias_sources(f.value, aliases, funcs)
    if isinstance(expr, COMPS) and len(expr.generators) == 1:
        return alias_sources(expr.generators[0].iter, aliases, funcs)
    return set()


def _irrefutable(case: ast.match_case) -> bool:
    """`case _:` or `case name:` without a guard: matches every subject."""
    pattern = case.pattern
    while isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        pattern = pattern.pattern
    return case.guard is None and isinstance(pattern, ast.MatchAs)


# ---------------------------------------------------------------- the ordered module walk


class ModuleWalker:
    """Walks top-level statements in notebook order, accumulating Facts.

    `funcs` holds the summaries of functions defined so far (shared across cells), so a
    call to a notebook function reads the globals it reads and changes what it changes.
    `modules` are the names the notebook's imports bind: `np.append(a, 1)` or
    `re.compile(p)` do not change `np` or `re`, and a change to an imported object
    (`pd.options.x = 1`) is process-wide state, not data. Imports in the walked block
    itself are added as they come.
    """

    def __init__(self, funcs: dict[str, FuncInfo], modules: Iterable[str] = ()) -> None:
        self.funcs = funcs
        self.facts = Facts()
        self.aliases: dict[str, set[str]] = {}
        self.cell = 0
        self.modules: set[str] = set(modules)

    # -- bookkeeping
    def read(self, name: str, line: int) -> None:
        f = self.facts
        if name not in f.must and name not in f.reads:
            f.reads[name] = Read(line, self.cell, name in f.binds)
        if name in self.funcs:
            for extra in sorted(self.transitive_free(name)):
                if extra not in f.must and extra not in f.reads:
                    f.reads[extra] = Read(line, self.cell, extra in f.binds)

    def transitive_free(self, name: str) -> set[str]:
        seen, todo, out = {name}, [name], set()
        while todo:
            info = self.funcs.get(todo.pop())
            if info is None:
                continue
            for n in info.free:
                out.add(n)
                if n in self.funcs and n not in seen:
                    seen.add(n)
                    todo.append(n)
        return out - {name}

    def bind(self, name: str, line: int, sources: set[str] | None = None) -> None:
        f = self.facts
        self.modules.discard(name)  # rebound as data (an import adds it back)
        f.binds.setdefault(name, (self.cell, line))
        f.deleted.discard(name)
        f.must.add(name)
        f.touched.setdefault(name, set()).add(self.cell)
        self.aliases[name] = set(sources or ()) - {name}

    def mutate(self, name: str | None, line: int) -> None:
        if not name:
            return
        for n in {name} | self.aliases.get(name, set()):
            if n in self.modules:
                continue
            self.facts.mutated.setdefault(n, (self.cell, line))
            self.facts.touched.setdefault(n, set()).add(self.cell)

    # -- statements
    def run(self, stmts: list[ast.stmt], cell: int) -> None:
        self.cell = cell
        for s in stmts:
            self.stmt(s)
        self._keep_earlier_values()

    def _keep_earlier_values(self) -> None:
        """A name the block binds on some paths only (`if c: v = 1`, a loop variable, a
        `try` that may fail) still holds its earlier value on the others: the block reads
        that value, so a producer before it is an input."""
        f = self.facts
        for name, (cell, line) in f.binds.items():
            if name not in f.must and name not in f.deleted and name not in f.reads:
                f.reads[name] = Read(line, cell, True)

    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Expr):
            self.expr(s.value)
        elif isinstance(s, ast.Assign | ast.AnnAssign):
            self._assign(s)
        elif isinstance(s, ast.AugAssign):
            self._augassign(s)
        elif isinstance(s, ast.Delete):
            self._delete(s)
        elif isinstance(s, ast.Import | ast.ImportFrom):
            self._import(s)
        elif isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self._definition(s)
        elif isinstance(s, ast.If):
            self.expr(s.test)
            before = set(self.facts.must)
            a = self._block(s.body)
            b = self._block(s.orelse)
            self.facts.must = before | (a & b)
        elif isinstance(s, ast.For | ast.AsyncFor | ast.While):
            self._loop(s)
        elif isinstance(s, ast.With | ast.AsyncWith):
            self._with(s)
        elif isinstance(s, ast.Try | getattr(ast, "TryStar", ast.Try)):
            self._try(s)  # type: ignore[arg-type]
        elif isinstance(s, ast.Match):
            self._match(s)
        else:  # Assert, Raise, Return, Global, Nonlocal, Pass, Break, Continue, ...
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def _assign(self, s: ast.Assign | ast.AnnAssign) -> None:
        if isinstance(s, ast.Assign):
            self.expr(s.value)
            src = alias_sources(s.value, self.aliases, self.funcs)
            for t in s.targets:
                self.target(t, src)
        elif s.value is not None:
            self.expr(s.value)
            self.expr(s.annotation)
            self.target(s.target, alias_sources(s.value, self.aliases, self.funcs))

    def _augassign(self, s: ast.AugAssign) -> None:
        line = s.lineno
        self.expr(s.value)
        if isinstance(s.target, ast.Name):
            self.read(s.target.id, line)
            self.mutate(s.target.id, line)
            self.bind(s.target.id, line, self.aliases.get(s.target.id, set()))
        else:
            self.expr(s.target)
            self.mutate(root_name(s.target), line)

    def _delete(self, s: ast.Delete) -> None:
        for t in s.targets:
            if isinstance(t, ast.Name):
                self.read(t.id, s.lineno)
                self.facts.must.discard(t.id)
                self.facts.deleted.add(t.id)
            else:
                self.expr(t)
                self.mutate(root_name(t), s.lineno)

    def _import(self, s: ast.Import | ast.ImportFrom) -> None:
        for alias in s.names:
            if alias.name != "*":
                name = (alias.asname or alias.name).split(".")[0]
                self.facts.imported.add(name)
                self.bind(name, s.lineno)
                self.modules.add(name)

    def _definition(self, s: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for sub in _def_time_nodes(s):
            self.expr(sub)
        if isinstance(s, ast.ClassDef):
            self._class_body(s)
        info = summarize(s, self.cell, self.funcs)
        self.funcs[s.name] = info
        for w in info.global_writes:  # bound when called: maybe-bound from here
            self.facts.binds.setdefault(w, (self.cell, s.lineno))
        self.bind(s.name, s.lineno)

    def _loop(self, s: ast.For | ast.AsyncFor | ast.While) -> None:
        if isinstance(s, ast.While):
            self.expr(s.test)
            self._block(s.body)
        else:
            self.expr(s.iter)
            src = alias_sources(s.iter, self.aliases, self.funcs)
            self._block(s.body, lambda: self.target(s.target, src))
        self._block(s.orelse)

    def _with(self, s: ast.With | ast.AsyncWith) -> None:
        for item in s.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.target(
                    item.optional_vars, alias_sources(item.context_expr, self.aliases, self.funcs)
                )
        for sub in s.body:
            self.stmt(sub)

    def _try(self, s: ast.Try) -> None:
        before = set(self.facts.must)
        ok = self._block(s.body + s.orelse)
        for h in s.handlers:
            if h.type is not None:
                self.expr(h.type)
            bind_name = (lambda h=h: self.bind(h.name, h.lineno)) if h.name else None
            ok &= self._block(h.body, bind_name)
        self.facts.must = before | ok
        for sub in s.finalbody:
            self.stmt(sub)

    def _match(self, s: ast.Match) -> None:
        self.expr(s.subject)
        before = set(self.facts.must)
        ends = [self._block(c.body, lambda c=c: self._case(c)) for c in s.cases]
        if s.cases and _irrefutable(s.cases[-1]):  # some case always runs
            self.facts.must = before | set.intersection(*ends)

    def _case(self, case: ast.match_case) -> None:
        for sub in ast.walk(case.pattern):
            if isinstance(sub, ast.MatchValue):
                self.expr(sub.value)
            elif isinstance(sub, ast.MatchClass):
                self.expr(sub.cls)
        for name in _pattern_names(case.pattern):
            self.bind(name, case.pattern.lineno)
        if case.guard is not None:
            self.expr(case.guard)

    def _block(self, stmts: list[ast.stmt], first: Callable[[], None] | None = None) -> set[str]:
        """Run a block that may not run; return what is bound at its end on its path."""
        before = set(self.facts.must)
        if first is not None:
            first()
        for sub in stmts:
            self.stmt(sub)
        after = set(self.facts.must)
        self.facts.must = before
        return after

    def _class_body(self, node: ast.ClassDef) -> None:
        free, _ = free_names(node)
        for name in sorted(free):
            self.read(name, node.lineno)

    def target(self, t: ast.AST, sources: set[str]) -> None:
        if isinstance(t, ast.Name):
            self.bind(t.id, t.lineno, sources)
        elif isinstance(t, ast.Tuple | ast.List):
            for elt in t.elts:
                self.target(elt, sources)
        elif isinstance(t, ast.Starred):
            self.target(t.value, sources)
        elif isinstance(t, ast.Subscript | ast.Attribute):
            self.expr(t.value)
            if isinstance(t, ast.Subscript):
                self.expr(t.slice)
            self.mutate(root_name(t), t.lineno)

    # -- expressions
    def expr(self, node: ast.AST | None) -> None:
        if node is None:
            return
        if isinstance(node, ast.BinOp) and isinstance(node.left, ast.BinOp):
            # `1 + 1 + ... + 1` nests on the left: walk that spine in a loop, not by
            # recursion, so long chains Python runs do not exhaust the stack.
            rights: list[ast.expr] = []
            while isinstance(node, ast.BinOp):
                rights.append(node.right)
                node = node.left
            self.expr(node)
            for right in reversed(rights):
                self.expr(right)
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.read(node.id, node.lineno)
            return
        if isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            self.bind(node.target.id, node.lineno, alias_sources(node.value, self.aliases))
            return
        if isinstance(node, (ast.Lambda, *COMPS)):
            if isinstance(node, COMPS):
                self.expr(node.generators[0].iter)
            else:
                for sub in _def_time_nodes(node):
                    self.expr(sub)
            free, _ = free_names(node)
            for name in sorted(free):
                self.read(name, node.lineno)
            for sub in ast.walk(node):  # walrus in a comprehension binds at module level
                if isinstance(sub, ast.NamedExpr) and isinstance(node, COMPS):
                    self._block([], lambda sub=sub: self.bind(sub.target.id, sub.lineno))
            if isinstance(node, COMPS):
                self._comprehension_effects(node)
            return
        if isinstance(node, ast.Call):
            self.expr(node.func)
            for a in node.args:
                self.expr(a)
            for k in node.keywords:
                self.expr(k.value)
            self._call_effects(node)
            return
        for child in ast.iter_child_nodes(node):
            self.expr(child)

    def _comprehension_effects(self, node: ast.AST) -> None:
        """`[m.fit(X, y) for m in models]` changes models: calls in a comprehension change
        what they reach, through its loop variables too."""
        local: dict[str, set[str]] = {}
        for gen in node.generators:  # type: ignore[attr-defined]
            src = alias_sources(gen.iter, {**self.aliases, **local})
            for name in _target_names(gen.target):
                local[name] = src
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Call):
                continue
            changed = call_mutations(sub)
            if isinstance(sub.func, ast.Name) and self._is_value(sub.func.id):
                changed.append(sub.func.id)
            for name in changed:
                for target in local.get(name, {name}):
                    if target not in local:
                        self.mutate(target, sub.lineno)

    def _is_value(self, name: str) -> bool:
        return not (name in self.funcs or name in self.modules or name in BUILTIN_NAMES)

    def _call_effects(self, call: ast.Call) -> None:
        line = call.lineno
        for name in call_mutations(call):
            self.mutate(name, line)
        func = call.func
        if isinstance(func, ast.Attribute):
            root = root_name(func.value)
            if (
                root
                and func.attr not in MUTATING_METHODS
                and func.attr not in READ_ONLY_METHODS
                and root not in self.modules
            ):
                self.facts.unknown_methods.append((root, func.attr, self.cell, line))
        if isinstance(func, ast.Name) and self._is_value(func.id):
            # Calling a value (a closure, a callable object) may change its state.
            self.mutate(func.id, line)
        if isinstance(func, ast.Name) and func.id in self.funcs:
            info = self.funcs[func.id]
            for w in info.global_writes:
                self.facts.binds.setdefault(w, (self.cell, line))
            for g in info.global_mutations:
                self.mutate(g, line)
            for arg in arg_mutations(call, info):
                for name in expr_names(arg):
                    self.mutate(name, line)
