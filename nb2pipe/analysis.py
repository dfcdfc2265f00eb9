"""From a Layout to a Pipeline (SPEC section 2): reads, writes and mutations per step, data
edges, parameters, shared code, process-wide settings and every diagnostic."""

from __future__ import annotations

import ast
import graphlib
import os
import re
import sys
from dataclasses import dataclass, field, replace

from nb2pipe import magics, params
from nb2pipe.errors import AnalysisError, StrictError
from nb2pipe.model import (
    CellPlan,
    Derived,
    Diagnostic,
    Fragment,
    Layout,
    Parameter,
    Pipeline,
    Step,
)
from nb2pipe.rules import BUILTIN_NAMES, IPYTHON_NAMES, distribution, is_setting
from nb2pipe.scopes import Facts, FuncInfo, ModuleWalker, free_names
from nb2pipe.source import Editor, is_display, segment
from nb2pipe.tags import identifier

RUNTIME_REQUIREMENTS = ("nb2pipe", "joblib", "pyarrow", "pyyaml")
STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
EFFECT_IMPORT = re.compile(r"\bexperimental\b|\bimport enable_\w+")
MAIN_TEST = re.compile(r"__name__\s*==\s*['\"]__main__['\"]|['\"]__main__['\"]\s*==\s*__name__")


@dataclass
class _Cell:
    plan: CellPlan
    source: str  # after magics
    tree: ast.Module
    requirements: list[str]
    uses_subprocess: bool


@dataclass
class _Import:
    name: str  # the bound name
    text: str  # a one-name import statement
    module: str  # top-level module, for requirements
    cell: int
    star: bool = False
    relative: bool = False


@dataclass
class _StepWork:
    name: str
    kind: str
    cells: list[_Cell]
    facts: Facts = field(default_factory=Facts)
    inputs: dict[str, str] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    common: set[str] = field(default_factory=set)
    uses_steps: dict[str, list[str]] = field(default_factory=dict)
    hoisted: set[str] = field(default_factory=set)
    metric_decls: list[tuple[str, int, int]] = field(default_factory=list)
    metric_stmts: set[int] = field(default_factory=set)  # id() of statements dropped
    after: list[str] = field(default_factory=list)
    extra_imports: set[str] = field(default_factory=set)
    defs: dict[str, ast.stmt] = field(default_factory=dict)


class Analyzer:
    def __init__(self, layout: Layout, *, strict: bool = False) -> None:
        self.layout = layout
        self.nb = layout.notebook
        self.file = self.nb.path
        self.strict = strict
        self.diags: list[Diagnostic] = list(layout.diagnostics)
        self.funcs: dict[str, FuncInfo] = {}
        self.origin: dict[str, tuple[str, str]] = {}  # name -> (kind, step)
        self.pool: dict[str, _Import] = {}
        self.stars: list[_Import] = []
        self.parameters: list[Parameter] = []
        self.derived: list[Derived] = []
        self.derive_frags: list[Fragment] = []
        self.settings: list[Fragment] = []
        self.common: list[Fragment] = []
        self.common_names: set[str] = set()
        self.common_funcs: dict[str, FuncInfo] = {}
        self.requirements: set[str] = set()
        self.skip_binds: dict[str, int] = {}  # name -> skip cell index
        self.works: dict[str, _StepWork] = {}
        self.nested: dict[str, tuple[str, int | None, int, list[str]]] = {}

    # ------------------------------------------------------------ helpers
    def warn(self, message: str, cell: int | None = None, line: int | None = None, code: str = ""):
        self.diags.append(Diagnostic("warning", message, cell, line, code))

    def note(self, message: str, cell: int | None = None, line: int | None = None, code: str = ""):
        self.diags.append(Diagnostic("note", message, cell, line, code))

    def error(self, message: str, cell: int | None, line: int | None, hint: str | None = None):
        raise AnalysisError(message, file=self.file, cell=cell, line=line, hint=hint)

    def _prepare(self, plan: CellPlan, tolerant: bool) -> _Cell | None:
        cell = plan.cell
        try:
            t = magics.transform(cell.source, file=self.file, cell=cell.index)
        except AnalysisError:
            if tolerant:
                return None
            raise
        try:
            tree = ast.parse(t.source)
        except SyntaxError as exc:
            if tolerant:
                return None
            msg = (exc.msg or "invalid syntax").split("\n")[0]
            self.error(
                f"syntax error: {msg}", cell.index, exc.lineno, "fix the cell or tag it 'skip'"
            )
        except (ValueError, RecursionError, MemoryError) as exc:
            if tolerant:
                return None
            self.error(f"cannot parse the cell: {type(exc).__name__}", cell.index, None)
        if not tolerant:
            for line, msg in t.notes:
                self.note(msg, cell.index, line, "magic")
            for line, msg in t.warnings:
                self.warn(msg, cell.index, line, "magic")
            self._check_toplevel(tree, cell.index)
        return _Cell(plan, t.source, tree, t.requirements, t.uses_subprocess)

    def _check_toplevel(self, tree: ast.Module, cell: int) -> None:
        stack: list[ast.AST] = list(tree.body)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            if isinstance(node, ast.Return | ast.Yield | ast.YieldFrom):
                self.error("'return' or 'yield' outside a function", cell, node.lineno)
            if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
                self.error(
                    "top-level await is not supported",
                    cell,
                    node.lineno,
                    "wrap the code in a function and call asyncio.run()",
                )
            stack.extend(ast.iter_child_nodes(node))

    # ------------------------------------------------------------ imports
    def _collect_imports(self, cells: list[_Cell]) -> None:
        for c in cells:
            for s in c.tree.body:
                if not isinstance(s, ast.Import | ast.ImportFrom):
                    continue
                for alias in s.names:
                    one = ast.Import([alias]) if isinstance(s, ast.Import) else None
                    if one is None:
                        one = ast.ImportFrom(s.module, [alias], s.level)
                    text = ast.unparse(one)
                    module = (s.module or "") if isinstance(s, ast.ImportFrom) else alias.name
                    rel = isinstance(s, ast.ImportFrom) and s.level > 0
                    if alias.name == "*":
                        self.stars.append(_Import("*", text, module, c.plan.cell.index, True, rel))
                        continue
                    name = (alias.asname or alias.name).split(".")[0]
                    if isinstance(s, ast.Import) and not alias.asname and "." in alias.name:
                        text = ast.unparse(ast.Import([ast.alias(alias.name)]))
                    prev = self.pool.get(name)
                    if prev and prev.text != text and prev.name == name:
                        if not prev.text.startswith("import ") or not text.startswith("import "):
                            self.warn(
                                f"{name!r} is imported differently in cells {prev.cell} and "
                                f"{c.plan.cell.index}; the later import is used",
                                c.plan.cell.index,
                                s.lineno,
                            )
                    if prev and prev.text.startswith("import ") and text.startswith("import "):
                        # `import os` and `import os.path` both bind os: keep both.
                        text = "\n".join(dict.fromkeys(prev.text.split("\n") + [text]))
                    self.pool[name] = _Import(name, text, module, c.plan.cell.index, False, rel)
                    if rel:
                        self.error(
                            "relative import in a notebook",
                            c.plan.cell.index,
                            s.lineno,
                            "use an absolute import",
                        )

    # ------------------------------------------------------------ global cells
    def _parameters(self, c: _Cell) -> None:
        stmts = [s for s in c.tree.body if not isinstance(s, ast.Import | ast.ImportFrom)]
        ps, ds, derive_stmts, diags = params.parse(
            stmts, c.source, file=self.file, cell=c.plan.cell.index
        )
        self.diags += diags
        known = {p.name for p in self.parameters} | {d.name for d in self.derived}
        for p in ps:
            if p.name in known:
                self.error(f"parameter {p.name!r} is defined twice", p.cell, p.line)
            self.parameters.append(p)
            self.origin[p.name] = ("param", "")
        walker = ModuleWalker(dict(self.funcs), modules=set(self.pool))
        walker.run(derive_stmts, c.plan.cell.index)
        for name, r in walker.facts.reads.items():
            kind = self.origin.get(name, ("", ""))[0]
            if name in BUILTIN_NAMES or name in self.pool or kind in ("param", "derived", "common"):
                continue
            if r.maybe_bound:
                continue
            self.error(
                f"derived value reads {name!r}, which is not a parameter",
                r.cell,
                r.line,
                "the parameters cell may only use parameters and imports",
            )
        self.derived += ds
        for d in ds:
            self.origin[d.name] = ("derived", "")
        if derive_stmts:
            ed = Editor(c.source)
            for s in c.tree.body:
                if s not in derive_stmts:
                    ed.remove(s, c.tree.body)
            self.derive_frags.append(Fragment(c.plan.cell.index, ed.result()))

    def _imports_cell(self, c: _Cell) -> None:
        modules = set(self.pool)
        settings, constants = Editor(c.source), Editor(c.source)
        body = c.tree.body
        has_settings = has_constants = False
        for s in body:
            if isinstance(s, ast.Import | ast.ImportFrom):
                settings.remove(s, body)
                constants.remove(s, body)
                continue
            binds = {
                n.id
                for n in ast.walk(s)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            binds |= {s.name} if isinstance(s, ast.FunctionDef | ast.ClassDef) else set()
            if is_setting(s, modules) or not binds:
                constants.remove(s, body)
                has_settings = True
            else:
                settings.remove(s, body)
                has_constants = True
                for n in binds:
                    self._common_name(n)
        if has_settings:
            self.settings.append(Fragment(c.plan.cell.index, settings.result()))
        if has_constants:
            self._walk_common(c, constants.result())

    def _common_name(self, name: str) -> None:
        self.common_names.add(name)
        self.origin[name] = ("common", "")

    def _functions_cell(self, c: _Cell) -> None:
        ed = Editor(c.source)
        for s in c.tree.body:
            if isinstance(s, ast.Import | ast.ImportFrom):
                ed.remove(s, c.tree.body)
        self._walk_common(c, ed.result())

    def _walk_common(self, c: _Cell, text: str) -> None:
        walker = ModuleWalker(self.funcs, modules=set(self.pool))
        walker.run([s for s in c.tree.body if not isinstance(s, ast.Import | ast.ImportFrom)], 0)
        for name in walker.facts.binds:
            self._common_name(name)
        for s in c.tree.body:
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.common_funcs[s.name] = self.funcs[s.name]
                self.funcs[s.name].cell = c.plan.cell.index
        self._pending_common_reads.append((c.plan.cell.index, walker.facts))
        if text.strip():
            self.common.append(Fragment(c.plan.cell.index, text))

    def _check_common(self) -> None:
        """Shared code may use only imports, other shared code and builtins."""
        allowed = set(self.pool) | self.common_names | BUILTIN_NAMES
        checks: list[tuple[str, int, int, str]] = []
        for cell, facts in self._pending_common_reads:
            checks += [(n, r.cell or cell, r.line, "") for n, r in facts.reads.items()]
        for name, info in self.common_funcs.items():
            checks += [(n, info.cell, info.line, name) for n in sorted(info.free)]
        for n, cell, line, func in checks:
            if n in allowed or (self.stars and n not in self.origin):
                continue
            who = f"shared function {func!r}" if func else "shared code"
            kind, step = self.origin.get(n, ("", ""))
            if kind in ("param", "derived"):
                self.error(
                    f"{who} reads the parameter {n!r} as a global",
                    cell,
                    line,
                    f"pass {n} as an argument, or define the function in the step that uses it",
                )
            if kind:
                self.error(
                    f"{who} reads {n!r}, a variable of step {step!r}",
                    cell,
                    line,
                    f"pass {n} as an argument",
                )
            self.error(f"{who} reads {n!r}, which is never defined", cell, line)

    # ------------------------------------------------------------ steps
    def _metrics_cell(self, work: _StepWork, c: _Cell) -> None:
        """Bare names, tuples and print() of names declare metrics; the cell adds no inputs."""
        for s in c.tree.body:
            names: list[str] = []
            if isinstance(s, ast.Expr):
                v = s.value
                items = v.elts if isinstance(v, ast.Tuple) else [v]
                if all(isinstance(i, ast.Name) for i in items):
                    names = [i.id for i in items]  # type: ignore[attr-defined]
                elif (
                    isinstance(v, ast.Call)
                    and isinstance(v.func, ast.Name)
                    and v.func.id in ("print", "display")
                ):
                    found = [n.id for a in v.args for n in ast.walk(a) if isinstance(n, ast.Name)]
                    calls = [n for a in v.args for n in ast.walk(a) if isinstance(n, ast.Call)]
                    if found and not calls:
                        names = found
            if names:
                work.metric_stmts.add(id(s))
                for n in names:
                    work.metric_decls.append((n, c.plan.cell.index, s.lineno))

    def _step(self, work: _StepWork) -> None:
        walker = ModuleWalker(self.funcs, modules=set(self.pool))
        for c in work.cells:
            if c.plan.role == "metrics":
                self._metrics_cell(work, c)
            stmts = [s for s in c.tree.body if id(s) not in work.metric_stmts]
            if c.plan.role in ("step", "metrics") and stmts and is_display(stmts[-1]):
                stmts = stmts[:-1]
            walker.run(stmts, c.plan.cell.index)
            for s in c.tree.body:
                if is_setting(s, set(self.pool)):
                    self.warn(
                        f"process-wide setting in step {work.name!r} reaches later steps only "
                        "when they run in the same process, and not from the cache",
                        c.plan.cell.index,
                        s.lineno,
                        "setting-in-step",
                    )
                if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    work.defs[s.name] = s
            self.requirements.update(c.requirements)
        work.facts = f = walker.facts
        self._resolve_reads(work)
        self._hoist(work)
        for n, (cell, line) in f.mutated.items():
            if self.origin.get(n, ("", ""))[0] == "param":
                self.note(
                    f"step {work.name!r} changes parameter {n!r}: data from here on", cell, line
                )
        for var, method, cell, line in f.unknown_methods:
            if var in work.inputs and var not in f.mutated:
                self.note(
                    f"{var}.{method}() on input {var!r} is assumed not to change it; "
                    "the runtime guard checks it",
                    cell,
                    line,
                    "guarded-call",
                )
        for n in f.deleted:
            self.origin.pop(n, None)
        for n in list(f.binds) + list(f.mutated):
            if n in work.hoisted:
                self.origin[n] = ("def", work.name)
            elif n in f.imported:
                self.origin[n] = ("import", "")
            elif n in f.deleted:
                self.origin.pop(n, None)
            else:
                if self.origin.get(n, ("", ""))[0] in ("param", "derived") and n in f.binds:
                    cell, line = f.binds[n]
                    self.note(
                        f"step {work.name!r} reassigns parameter {n!r}: data from here on",
                        cell,
                        line,
                    )
                self.origin[n] = ("step", work.name)

    def _resolve_reads(self, work: _StepWork) -> None:
        f = work.facts
        for n, r in f.reads.items():
            kind, src = self.origin.get(n, ("", ""))
            if kind == "step" and self.nested.get(n, ("",))[0] == src:
                _, cell, line, outside = self.nested[n]
                self.error(
                    f"{n!r} is defined inside step {src!r} because it uses "
                    f"{', '.join(outside) or 'its variables'}, so step {work.name!r} cannot use it",
                    cell,
                    line,
                    "pass those values as arguments, or define it in a functions cell",
                )
            if kind == "step":
                work.inputs[n] = src
            elif kind in ("param", "derived"):
                work.params.append(n)
            elif kind == "import":
                work.imports.add(n)
            elif kind == "common":
                work.common.add(n)
            elif kind == "def":
                work.uses_steps.setdefault(src, []).append(n)
            elif n in self.pool:
                work.imports.add(n)
            elif r.maybe_bound or n in BUILTIN_NAMES:
                continue
            elif n in IPYTHON_NAMES:
                if n == "display":
                    work.extra_imports.add("from IPython.display import display")
                    self.requirements.add("ipython")
                else:
                    self.warn(
                        f"{n!r} is IPython's and does not exist outside a notebook",
                        r.cell,
                        r.line,
                        "ipython-name",
                    )
            elif n in self.skip_binds:
                self.error(
                    f"{n!r} is defined only in a skip cell (cell {self.skip_binds[n]})",
                    r.cell,
                    r.line,
                    "remove the skip tag from that cell, or define the name in the pipeline",
                )
            elif self.stars:
                self.warn(f"{n!r} is undefined unless a star import provides it", r.cell, r.line)
            else:
                self.error(
                    f"name {n!r} is used but never defined",
                    r.cell,
                    r.line,
                    "define it in an earlier cell, or make it a parameter",
                )

    def _hoist(self, work: _StepWork) -> None:
        """Top-level functions and classes move to module level when they can."""
        module_level = set(self.pool) | self.common_names | BUILTIN_NAMES
        module_level |= {n for n, (k, _) in self.origin.items() if k == "def"}
        candidates = dict(work.defs)
        changed = True
        while changed:  # a def may rely on another hoisted def of the same step
            changed = False
            for name in list(candidates):
                info = self.funcs.get(name)
                bound_once = (
                    sum(1 for c in work.cells for n in _top_binds(c.tree) if n == name) == 1
                )
                needs = (info.free | info.def_reads) - {name} if info else {"?"}
                ok = (
                    info is not None
                    and bound_once
                    and not info.global_writes
                    and needs <= (module_level | work.hoisted)
                )
                if ok:
                    work.hoisted.add(name)
                    del candidates[name]
                    changed = True
        for name, node in candidates.items():
            info = self.funcs.get(name)
            outside = sorted(((info.free | info.def_reads) if info else set()) - module_level)
            cell = info.cell if info else None
            self.nested[name] = (work.name, cell, node.lineno, outside)
            if isinstance(node, ast.ClassDef):
                self.warn(
                    f"class {name!r} uses {', '.join(outside) or 'step variables'}, so it stays "
                    f"inside step {work.name!r}; its objects cannot be stored as outputs",
                    cell,
                    node.lineno,
                    "local-class",
                )

    # ------------------------------------------------------------ run
    def run(self) -> Pipeline:
        layout = self.layout
        self._pending_common_reads: list[tuple[int, Facts]] = []
        kept_roles = ("parameters", "imports", "functions", "step", "metrics", "validate")
        cells: dict[int, _Cell] = {}
        for plan in layout.cells:
            if plan.cell.cell_type != "code" or not plan.cell.source.strip():
                continue
            if plan.role in kept_roles:
                c = self._prepare(plan, tolerant=False)
                if c is not None:
                    cells[plan.cell.index] = c
            elif plan.role == "skip":
                c = self._prepare(plan, tolerant=True)
                if c is not None:
                    w = ModuleWalker({})
                    w.run(c.tree.body, plan.cell.index)
                    for n in list(w.facts.binds) + list(w.facts.mutated):
                        self.skip_binds.setdefault(n, plan.cell.index)
        self._collect_imports(list(cells.values()))
        if any(c.uses_subprocess for c in cells.values()) and "subprocess" not in self.pool:
            self.pool["subprocess"] = _Import("subprocess", "import subprocess", "subprocess", 0)
        for name in self.pool:
            self.origin[name] = ("import", "")
        for c in cells.values():
            if c.plan.role == "parameters":
                self._parameters(c)
            elif c.plan.role == "imports":
                self._imports_cell(c)
            elif c.plan.role == "functions":
                self._functions_cell(c)
            if c.plan.role in ("parameters", "imports", "functions"):
                self.requirements.update(c.requirements)
                if c.uses_subprocess:
                    self.error(
                        "shell command outside a step",
                        c.plan.cell.index,
                        None,
                        "move it into a step",
                    )
        self._check_common()
        for name in layout.step_order:
            step_cells = [c for c in cells.values() if c.plan.step == name]
            kind = "gate" if step_cells and step_cells[0].plan.role == "validate" else "step"
            work = _StepWork(name, kind, step_cells)
            for c in step_cells:
                work.after += [a for a in c.plan.after if a not in work.after]
            self.works[name] = work
            self._step(work)
        self._skip_warnings(cells)
        self._gate_splits(layout, cells)
        return self._assemble(cells)

    def _skip_warnings(self, cells: dict[int, _Cell]) -> None:
        for name, work in self.works.items():
            first = min((c.plan.cell.index for c in work.cells), default=0)
            for n in list(work.inputs) + work.params:
                skip_cell = self.skip_binds.get(n)
                if skip_cell and skip_cell < first:
                    self.warn(
                        f"skip cell {skip_cell} changes {n!r}, which step {name!r} reads: the "
                        "pipeline will differ from the notebook as run",
                        skip_cell,
                        None,
                        "skip-changes-input",
                    )

    def _gate_splits(self, layout: Layout, cells: dict[int, _Cell]) -> None:
        for gate in (w for w in self.works.values() if w.kind == "gate"):
            gate_cell = gate.cells[0].plan.cell.index if gate.cells else 0
            for n, src in gate.inputs.items():
                producer = self.works[src]
                late = sorted(
                    cell for cell in producer.facts.touched.get(n, set()) if cell > gate_cell
                )
                if late:
                    self.error(
                        f"cell {late[0]} changes {n!r} after the validate cell {gate_cell} checks it",
                        late[0],
                        None,
                        "tag that cell step:NAME to start a new step after the checks",
                    )

    # ------------------------------------------------------------ assembly
    def _assemble(self, cells: dict[int, _Cell]) -> Pipeline:
        works = self.works
        order = list(works)
        outputs: dict[str, list[str]] = {n: [] for n in order}
        metrics: dict[str, list[str]] = {n: [] for n in order}
        dependents: dict[str, set[str]] = {n: set() for n in order}
        for w in works.values():
            for var, src in w.inputs.items():
                if var not in outputs[src]:
                    outputs[src].append(var)
                dependents[src].add(w.name)
            for a in w.after:
                dependents[a].add(w.name)
            for var, cell, line in w.metric_decls:
                producer = w.name if var in w.facts.binds or var in w.facts.mutated else None
                if producer is None:
                    kind, src = self.origin.get(var, ("", ""))
                    producer = src if kind == "step" else None
                if producer is None:
                    self.warn(f"metric {var!r} is not computed by any step", cell, line)
                    continue
                if var not in metrics[producer]:
                    metrics[producer].append(var)
                if var not in outputs[producer]:
                    outputs[producer].append(var)
        # Gates stop every step after them in the notebook.
        ancestors: dict[str, set[str]] = {}
        gates_so_far: list[str] = []
        for n in order:
            w = works[n]
            anc: set[str] = set()
            for up in list(w.inputs.values()) + w.after:
                anc |= {up} | ancestors.get(up, set())
            for g in gates_so_far:
                if g not in anc:
                    w.after.append(g)
                    dependents[g].add(n)
                    anc |= {g} | ancestors.get(g, set())
            ancestors[n] = anc
            if w.kind == "gate":
                gates_so_far.append(n)
        self._check_cycles(order)
        steps: list[Step] = []
        for n in order:
            w = works[n]
            f = w.facts
            outs = outputs[n]
            if not dependents[n] and w.kind == "step":
                # A step nothing depends on keeps what it defines on every path, except
                # definitions, modules, file handles, lambdas and generators.
                unstorable = set(w.defs) | f.imported | _unstorable(w.cells)
                for var in dict.fromkeys([*f.binds, *f.mutated]):
                    kept = var in f.must or var in w.inputs
                    if kept and var not in unstorable | f.deleted and var not in outs:
                        outs.append(var)
            steps.append(self._build_step(w, tuple(outs), tuple(metrics[n])))
        return self._pipeline(steps, cells)

    def _check_cycles(self, order: list[str]) -> None:
        ts: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for n in order:
            w = self.works[n]
            ts.add(n, *w.inputs.values(), *w.after)
        try:
            ts.prepare()
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            culprit = next(
                (
                    c.plan.cell.index
                    for n in cycle
                    for c in self.works[n].cells
                    if set(c.plan.after) & set(cycle)
                ),
                None,
            )
            raise AnalysisError(
                "the steps form a cycle: " + " -> ".join(cycle),
                file=self.file,
                cell=culprit,
                hint="an after: tag points to a later step; remove it",
            ) from None

    def _build_step(self, w: _StepWork, outputs: tuple[str, ...], metrics: tuple[str, ...]) -> Step:
        body, hoisted = self._fragments(w)
        used_imports = set(w.imports) | self._settings_names()
        loads = {n.id for c in w.cells for n in ast.walk(c.tree) if isinstance(n, ast.Name)}
        used_imports |= loads & w.facts.imported & set(self.pool)
        for name in w.hoisted:
            info = self.funcs[name]
            used_imports |= (info.free | info.def_reads) & set(self.pool)
        for hoisted_name in w.hoisted:
            w.common |= (self.funcs[hoisted_name].free | self.funcs[hoisted_name].def_reads) & (
                self.common_names
            )
        imports = [self.pool[n].text for n in sorted(used_imports, key=self._import_order)]
        imports += [s.text for s in self.stars]
        imports += sorted(w.extra_imports)
        dists = sorted(
            {
                distribution(self.pool[n].module)
                for n in used_imports
                if self._is_dist(self.pool[n].module)
            }
            | {distribution(s.module) for s in self.stars if self._is_dist(s.module)}
        )
        self.requirements.update(dists)
        common = self._common_closure(w.common)
        cells = tuple(c.plan.cell.index for c in w.cells)
        foreign = tuple(dict.fromkeys(t for c in w.cells for t in c.plan.foreign_tags))
        models = tuple(c.plan.model_name for c in w.cells if c.plan.model_name)
        doc = self.layout.docs.get(w.name, "")
        return Step(
            name=w.name,
            kind=w.kind,  # type: ignore[arg-type]
            cells=cells,
            doc=doc,
            inputs=dict(w.inputs),
            outputs=outputs,
            params=tuple(p for p in self._param_order() if p in w.params),
            after=tuple(a for a in w.after if a not in w.inputs.values()),
            metrics=metrics,
            models=models,
            imports=tuple(imports),
            body=body,
            hoisted=hoisted,
            uses_common=tuple(sorted(common)),
            uses_steps={k: tuple(dict.fromkeys(v)) for k, v in sorted(w.uses_steps.items())},
            distributions=tuple(dists),
            files=self._files(w),
            foreign_tags=foreign,
            mutates=tuple(v for v in w.inputs if v in w.facts.mutated),
        )

    def _settings_names(self) -> set[str]:
        names: set[str] = set()
        for frag in self.settings:
            names |= {n.id for n in ast.walk(ast.parse(frag.source)) if isinstance(n, ast.Name)}
        return names & set(self.pool)

    def _import_order(self, name: str) -> tuple[int, str]:
        return (self.pool[name].cell, name)

    def _param_order(self) -> list[str]:
        return [p.name for p in self.parameters] + [d.name for d in self.derived]

    def _is_dist(self, module: str) -> bool:
        top = module.split(".")[0]
        if not top or top in STDLIB:
            return False
        folder = os.path.dirname(os.path.abspath(self.file))
        return not (
            os.path.exists(os.path.join(folder, top + ".py"))
            or os.path.isdir(os.path.join(folder, top))
        )

    def _common_closure(self, names: set[str]) -> set[str]:
        out, todo = set(), list(names)
        while todo:
            n = todo.pop()
            if n in out or n not in self.common_names:
                continue
            out.add(n)
            info = self.common_funcs.get(n)
            if info:
                todo += list((info.free | info.def_reads) & self.common_names)
        return out

    def _files(self, w: _StepWork) -> tuple[str, ...]:
        folder = os.path.dirname(os.path.abspath(self.file))
        found: list[str] = []
        for c in w.cells:
            for node in ast.walk(c.tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    v = node.value
                    if 0 < len(v) < 260 and "\n" not in v and "\x00" not in v:
                        try:
                            if os.path.isfile(os.path.join(folder, v)):
                                found.append(os.path.normpath(v).replace(os.sep, "/"))
                        except (OSError, ValueError):
                            continue
        return tuple(sorted(set(found)))

    def _fragments(self, w: _StepWork) -> tuple[tuple[Fragment, ...], tuple[Fragment, ...]]:
        body: list[Fragment] = []
        hoisted: list[Fragment] = []
        for c in w.cells:
            ed = Editor(c.source)
            stmts = c.tree.body
            for s in stmts:
                if isinstance(s, ast.Import | ast.ImportFrom):
                    ed.remove(s, stmts)
                elif isinstance(s, ast.Global):
                    ed.remove(s, stmts)
                elif id(s) in w.metric_stmts:
                    ed.remove(s, stmts)
                elif isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    if s.name in w.hoisted:
                        if ed.remove(s, stmts):
                            hoisted.append(Fragment(c.plan.cell.index, _def_text(c.source, s)))
            kept = [s for s in stmts if id(s) not in w.metric_stmts]
            if c.plan.role in ("step", "metrics") and kept and is_display(kept[-1]):
                ed.remove(kept[-1], stmts)
            self._rewrite(w, c, ed)
            text = ed.result()
            if text.strip():
                body.append(Fragment(c.plan.cell.index, text))
        return tuple(body), tuple(hoisted)

    def _rewrite(self, w: _StepWork, c: _Cell, ed: Editor) -> None:
        """In-place edits: __main__ guards, global -> nonlocal in nested defs, gate asserts."""
        for node in ast.walk(c.tree):
            if isinstance(node, ast.If) and MAIN_TEST.fullmatch(segment(c.source, node.test)):
                ed.insert_before(node, '# In the notebook, __name__ == "__main__": the block runs.')
                ed.replace(node.test, "True")
        for s in c.tree.body:
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and s.name not in w.hoisted:
                for node in ast.walk(s):
                    if isinstance(node, ast.Global):
                        missing = [
                            n for n in node.names if n not in w.facts.must and n not in w.inputs
                        ]
                        if missing:
                            self.error(
                                f"function {s.name!r} declares {missing[0]!r} global, but the step "
                                "does not define it first",
                                c.plan.cell.index,
                                node.lineno,
                                "assign it before the function, or pass it as an argument",
                            )
                        ed.replace(node, "nonlocal " + ", ".join(node.names))
        if w.kind != "gate":
            return
        local_ok = set(w.inputs) | set(w.params) | set(w.facts.binds)
        for node in ast.walk(c.tree):
            if isinstance(node, ast.Assert):
                names = _value_names(node.test) & local_ok
                text = segment(c.source, node.test)
                args = [segment(c.source, node.test)]
                if node.msg is not None:
                    args.append(segment(c.source, node.msg))
                values = ", ".join(f"{n!r}: {n}" for n in sorted(names))
                call = (
                    f"check({', '.join(args)}, text={text!r}, cell={c.plan.cell.index}, "
                    f"line={node.lineno}, values={{{values}}})"
                )
                ed.replace(node, call)
                w.extra_imports.add("from nb2pipe.runtime import check")

    def _pipeline(self, steps: list[Step], cells: dict[int, _Cell]) -> Pipeline:
        needed = set()
        for _cell, facts in self._pending_common_reads:
            needed |= set(facts.reads) & set(self.pool)
        for info in self.common_funcs.values():
            needed |= (info.free | info.def_reads) & set(self.pool)
        common_imports = [self.pool[n].text for n in sorted(needed, key=self._import_order)]
        derive_needed: set[str] = set()
        for frag in self.derive_frags:
            tree = ast.parse(frag.source)
            derive_needed |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & set(
                self.pool
            )
        for n in needed | derive_needed:
            if self._is_dist(self.pool[n].module):
                self.requirements.add(distribution(self.pool[n].module))
        # Imports used by nothing in the pipeline: dropped, unless kept for their effect.
        used = {n for s in steps for n in s.imports} | needed | derive_needed
        all_reads = set(needed | derive_needed)
        for w in self.works.values():
            all_reads |= set(w.facts.reads)
            for h in w.hoisted:
                all_reads |= self.funcs[h].free | self.funcs[h].def_reads
        effect = []
        for name, imp in self.pool.items():
            if name in all_reads or imp.text in used:
                continue
            if EFFECT_IMPORT.search(imp.text):
                effect.append(imp.text)
                self.note(f"import of {name!r} kept in every step for its effect", imp.cell)
            else:
                self.note(f"import of {name!r} is not used by the pipeline: left out", imp.cell)
        if effect:
            steps = [
                replace(s, imports=tuple(dict.fromkeys(s.imports + tuple(effect)))) for s in steps
            ]
            for t in effect:
                mod = t.split()[1]
                if self._is_dist(mod):
                    self.requirements.add(distribution(mod))
        name = identifier(self.nb.name, "pipeline")
        diags = tuple(self.diags)
        if self.strict:
            first = next((d for d in diags if d.severity == "warning"), None)
            if first is not None:
                raise StrictError(
                    f"--strict: {first.message}", file=self.file, cell=first.cell, line=first.line
                )
        return Pipeline(
            name=name,
            notebook=self.nb,
            parameters=tuple(self.parameters),
            derived=tuple(self.derived),
            steps=tuple(steps),
            requirements=tuple(sorted(self.requirements | set(RUNTIME_REQUIREMENTS))),
            diagnostics=diags,
            split=self.layout.split,
            settings=tuple(self.settings),
            common=tuple(self.common),
            common_imports=tuple(common_imports),
            derive=tuple(self.derive_frags),
            derive_imports=tuple(
                self.pool[n].text for n in sorted(derive_needed, key=self._import_order)
            ),
        )


def _unstorable(cells: list[_Cell]) -> set[str]:
    """Names bound to values that cannot be stored: `with` targets, lambdas, generators."""
    out: set[str] = set()
    for c in cells:
        for node in ast.walk(c.tree):
            if isinstance(node, ast.withitem) and node.optional_vars is not None:
                out |= {n.id for n in ast.walk(node.optional_vars) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.Assign) and isinstance(
                node.value, ast.Lambda | ast.GeneratorExp
            ):
                out |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def _top_binds(tree: ast.Module) -> list[str]:
    out = []
    for s in tree.body:
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.append(s.name)
        elif isinstance(s, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            for t in targets:
                out += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    return out


def _def_text(source: str, node: ast.stmt) -> str:
    lines = source.split("\n")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


def _value_names(expr: ast.AST) -> set[str]:
    """Names whose values a check reports: those read in the expression's own scope."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out.add(n.id)
        elif isinstance(
            n, ast.Lambda | ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
        ):
            out |= free_names(n)[0]
        else:
            stack.extend(ast.iter_child_nodes(n))
    return out


def analyze(layout: Layout, *, strict: bool = False) -> Pipeline:
    return Analyzer(layout, strict=strict).run()
