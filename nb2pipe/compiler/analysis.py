"""From a Layout to an Analysis (SPEC section 2): reads, writes and mutations per step, data
edges, parameters, shared code, process-wide settings and every diagnostic. The value it
returns is frozen (nb2pipe.compiler.analysed); hazards, assemble and lowering read it."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from nb2pipe.compiler import copies, magics, mlops_tags, params, randomness, tagcheck
from nb2pipe.compiler.analysed import (
    Analysis,
    ImportLine,
    PreparedCell,
    StepAnalysis,
    frozen_map,
)
from nb2pipe.compiler.model import (
    CellPlan,
    Derived,
    Diagnostic,
    Fragment,
    Layout,
    Parameter,
)
from nb2pipe.compiler.rules import (
    BUILTIN_NAMES,
    IPYTHON_NAMES,
    is_import,
    is_import_block,
    is_setting,
)
from nb2pipe.compiler.scopes import Facts, FuncInfo, ModuleWalker
from nb2pipe.compiler.source import Editor, is_display
from nb2pipe.compiler.tags import directive_words
from nb2pipe.errors import AnalysisError


@dataclass
class StepWork:
    """A step while the analyser builds it (frozen into a StepAnalysis at the end)."""

    name: str
    kind: str
    cells: list[PreparedCell]
    facts: Facts = field(default_factory=Facts)
    inputs: dict[str, str] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    common: set[str] = field(default_factory=set)
    uses_steps: dict[str, list[str]] = field(default_factory=dict)
    hoisted: set[str] = field(default_factory=set)
    metric_decls: list[tuple[str, int, int]] = field(default_factory=list)
    dropped: set[int] = field(default_factory=set)  # id() of statements not in the body
    after: list[str] = field(default_factory=list)
    extra_imports: set[str] = field(default_factory=set)
    defs: dict[str, ast.stmt] = field(default_factory=dict)
    aliases: dict[str, set[str]] = field(default_factory=dict)  # at the step's end
    copied: dict[str, Fragment] = field(default_factory=dict)  # defs it generates (copies)

    def freeze(self) -> StepAnalysis:
        return StepAnalysis(
            name=self.name,
            kind=self.kind,
            cells=tuple(self.cells),
            facts=self.facts,
            inputs=frozen_map(self.inputs),
            params=tuple(self.params),
            imports=frozenset(self.imports),
            common=frozenset(self.common),
            uses_steps=frozen_map((k, tuple(v)) for k, v in self.uses_steps.items()),
            hoisted=frozenset(self.hoisted),
            metric_decls=tuple(self.metric_decls),
            dropped=frozenset(self.dropped),
            after=tuple(self.after),
            extra_imports=frozenset(self.extra_imports),
            defs=frozen_map(self.defs),
            aliases=frozen_map((k, frozenset(v)) for k, v in self.aliases.items()),
            copied=frozen_map(self.copied),
        )


SKIP_HINT = (
    "remove the skip tag from that cell, define the name in the pipeline, or convert with "
    "--include-skip-definitions"
)


class Analyzer:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.nb = layout.notebook
        self.file = self.nb.path
        self.diags: list[Diagnostic] = list(layout.diagnostics)
        self.funcs: dict[str, FuncInfo] = {}
        self.origin: dict[str, tuple[str, str]] = {}  # name -> (kind, step)
        self.pool: dict[str, ImportLine] = {}
        self.stars: list[ImportLine] = []
        self.parameters: list[Parameter] = []
        self.derived: list[Derived] = []
        self.derive_frags: list[Fragment] = []
        self.settings: list[Fragment] = []
        self.seeds: list[tuple[Fragment, frozenset[str]]] = []  # global random seeds: carried
        self.cells: dict[int, PreparedCell] = {}
        self._qualified: dict[str, str] | None = None
        self.common: list[Fragment] = []
        self.common_names: set[str] = set()
        self.common_funcs: dict[str, FuncInfo] = {}
        self.requirements: set[str] = set()
        self.skip_binds: dict[str, list[int]] = {}  # name -> skip cells that set it
        self.works: dict[str, StepWork] = {}
        self.nested: dict[str, tuple[str, int | None, int, list[str]]] = {}
        self.copyable: dict[str, copies.Copyable] = {}

    # ------------------------------------------------------------ helpers
    def warn(self, message: str, cell: int | None = None, line: int | None = None, code: str = ""):
        self.diags.append(Diagnostic("warning", message, cell, line, code))

    def note(self, message: str, cell: int | None = None, line: int | None = None, code: str = ""):
        self.diags.append(Diagnostic("note", message, cell, line, code))

    def error(self, message: str, cell: int | None, line: int | None, hint: str | None = None):
        raise AnalysisError(message, file=self.file, cell=cell, line=line, hint=hint)

    def _did_you_mean(self, name: str, fallback: str) -> str:
        known = [*self.origin, *self.pool, *self.common_names, *BUILTIN_NAMES]
        return tagcheck.undefined_hint(name, known, fallback)

    def _prepare(self, plan: CellPlan, tolerant: bool) -> PreparedCell | None:
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
        return PreparedCell(plan, t.source, tree, tuple(t.requirements), t.uses_subprocess)

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
    def _collect_imports(self, cells: list[PreparedCell]) -> None:
        for c in cells:
            for s in c.tree.body:
                if is_import_block(s):
                    self._import_block(c, s)
                    continue
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
                        self.stars.append(
                            ImportLine("*", text, module, c.plan.cell.index, True, rel)
                        )
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
                    self.pool[name] = ImportLine(
                        name, text, module, c.plan.cell.index, False, rel, len(self.pool)
                    )
                    if rel:
                        self.error(
                            "relative import in a notebook",
                            c.plan.cell.index,
                            s.lineno,
                            "use an absolute import",
                        )

    def _import_block(self, c: PreparedCell, s: ast.Try) -> None:
        """A try/except ImportError of imports: every name it binds imports the block."""
        text = "\n".join(c.source.split("\n")[s.lineno - 1 : s.end_lineno])
        fallback = [
            (a.name if isinstance(i, ast.Import) else i.module or "")
            for h in s.handlers
            for i in h.body
            if isinstance(i, ast.Import | ast.ImportFrom)
            for a in i.names
        ]
        for node in ast.walk(s):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for a in node.names:
                    name = (a.asname or a.name).split(".")[0]
                    module = fallback[0] if fallback else ""
                    self.pool[name] = ImportLine(
                        name, text, module, c.plan.cell.index, False, False, len(self.pool)
                    )

    # ------------------------------------------------------------ global cells
    def _parameters(self, c: PreparedCell) -> None:
        stmts = [s for s in c.tree.body if not is_import(s)]
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

    def qualified(self) -> dict[str, str]:
        """Imported name -> what it names (np -> numpy), once the imports are collected."""
        if self._qualified is None:
            self._qualified = randomness.qualified_names(self.pool)
        return self._qualified

    def _seed_streams(self, s: ast.stmt) -> set[str]:
        return randomness.seed_streams(s, self.qualified())

    def _imports_cell(self, c: PreparedCell) -> None:
        modules = set(self.pool)
        settings, constants = Editor(c.source), Editor(c.source)
        body = c.tree.body
        has_settings = has_constants = False
        kept: list[ast.stmt] = []  # the constants and definitions: shared code
        for s in body:
            if is_import(s):
                settings.remove(s, body)
                constants.remove(s, body)
                continue
            streams = self._seed_streams(s)
            if streams and Editor(c.source).remove(s, body):
                # A seed of the global random streams runs once, in the first step that
                # draws; the state then travels from step to step (randomness.plan).
                settings.remove(s, body)
                constants.remove(s, body)
                text = "\n".join(c.source.split("\n")[s.lineno - 1 : s.end_lineno])
                self.seeds.append((Fragment(c.plan.cell.index, text), frozenset(streams)))
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
                kept.append(s)
                for n in binds:
                    self._common_name(n)
        if has_settings:
            self.settings.append(Fragment(c.plan.cell.index, settings.result()))
            walker = ModuleWalker(self.funcs, modules=set(self.pool))
            walker.run([s for s in body if s not in kept and not is_import(s)], 0)
            self._pending_settings_reads.append((c.plan.cell.index, walker.facts))
        if has_constants:
            others = tuple(id(s) for s in body if s not in kept)
            self._walk_common(c, constants.result(), others)

    def _common_name(self, name: str) -> None:
        self.common_names.add(name)
        self.origin[name] = ("common", "")

    def _functions_cell(self, c: PreparedCell) -> None:
        ed = Editor(c.source)
        for s in c.tree.body:
            if is_import(s):
                ed.remove(s, c.tree.body)
        self._walk_common(c, ed.result())

    def _walk_common(self, c: PreparedCell, text: str, skip: tuple[int, ...] = ()) -> None:
        """``skip``: ids of statements that are not shared code (an imports cell's settings,
        which run in the steps)."""
        walker = ModuleWalker(self.funcs, modules=set(self.pool))
        walker.run([s for s in c.tree.body if not is_import(s) and id(s) not in skip], 0)
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
        """Shared code may use only imports, other shared code and builtins. A shared
        function reading a parameter or a step's variable is generated inside each step
        that uses it instead (nb2pipe.compiler.copies)."""
        allowed = set(self.pool) | self.common_names | BUILTIN_NAMES
        defined = _bound_anywhere(self.cells.values())
        local = self._local_functions(allowed, defined)
        checks: list[tuple[str, int, int, str]] = []
        for cell, facts in self._pending_common_reads:
            checks += [(n, r.cell or cell, r.line, "") for n, r in facts.reads.items()]
        for cell, facts in self._pending_settings_reads:  # settings run in the steps: they
            checks += [  # may read parameters too (each step then takes them)
                (n, r.cell or cell, r.line, "-")
                for n, r in facts.reads.items()
                if self.origin.get(n, ("", ""))[0] not in ("param", "derived")
            ]
        checks.sort(key=lambda check: check[0] not in local)  # the call, then what it reads
        for n, cell, line, func in checks:
            if (n in allowed and n not in local) or (self.stars and n not in self.origin):
                continue
            who = "a process-wide setting" if func == "-" else "shared code"
            kind = self.origin.get(n, ("", ""))[0]
            if n in local:
                self.error(
                    f"{who} calls {n!r}, a shared function that reads "
                    f"{', '.join(local[n])}, which shared code cannot see",
                    cell,
                    line,
                    "move this line into the step that needs it",
                )
            if kind in ("param", "derived"):
                self.error(
                    f"{who} reads the parameter {n!r} as a global",
                    cell,
                    line,
                    "move this line into the step that needs it",
                )
            if n in defined:
                self.error(
                    f"{who} reads {n!r}, a variable the steps define (cell {defined[n]})",
                    cell,
                    line,
                    "move this line into the step that needs it",
                )
            self.error(f"{who} reads {n!r}, which is never defined", cell, line)
        self._localize(local)

    def _local_functions(self, allowed: set[str], defined: dict[str, int]) -> dict[str, list]:
        """Shared functions (and those calling them) that read names shared code cannot
        see: the parameters and the steps' variables. Name -> those names."""
        local: dict[str, list[str]] = {}
        for name, info in self.common_funcs.items():
            for n in sorted(info.free):
                if n in allowed or (self.stars and n not in self.origin):
                    continue
                param = self.origin.get(n, ("", ""))[0] in ("param", "derived")
                never = n not in defined and not param
                if info.is_class or info.global_writes or never:
                    what = "the parameter" if param else "a variable of the steps"
                    self.error(
                        f"shared {'class' if info.is_class else 'function'} {name!r} reads "
                        + (f"{n!r}, which is never defined" if never else f"{what} {n!r}"),
                        info.cell,
                        info.line,
                        f"pass {n} as an argument" if not never else "define it in an earlier cell",
                    )
                local.setdefault(name, []).append(n)
        changed = True
        while changed:  # a shared function calling a local one is local too
            changed = False
            for name, info in self.common_funcs.items():
                if name not in local and info.free & set(local):
                    local[name] = sorted(info.free & set(local))
                    changed = True
        return local

    def _localize(self, local: dict[str, list[str]]) -> None:
        """Take the local shared functions out of common.py: the steps define them."""
        for name in local:
            info = self.common_funcs.pop(name)
            self.common_names.discard(name)
            self.origin[name] = ("copy", "")
            c = self.cells[info.cell]
            node = next(s for s in c.tree.body if getattr(s, "name", None) == name)
            self.copyable[name] = copies.make(name, "", info.cell, c.source, node)
        for i, frag in enumerate(self.common):
            tree = ast.parse(frag.source)
            ed = Editor(frag.source)
            for s in tree.body:
                if getattr(s, "name", None) in local:
                    ed.remove(s, tree.body)
            self.common[i] = Fragment(frag.cell, ed.result())
        self.common = [f for f in self.common if f.source.strip()]

    # ------------------------------------------------------------ steps
    def _metrics_cell(self, work: StepWork, c: PreparedCell) -> None:
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
                work.dropped.add(id(s))
                self._numeric_metrics(names, c, s.lineno)
            elif isinstance(s, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = s.targets if isinstance(s, ast.Assign) else [s.target]
                names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                kind = mlops_tags.not_a_number(s.value) if s.value is not None else None
                if kind and len(names) == 1:
                    self.error(
                        f"metric {names[0]!r} is {kind}, not a number",
                        c.plan.cell.index,
                        s.lineno,
                        "a metrics cell records numbers: print the rest in the step instead",
                    )
            for n in names:
                work.metric_decls.append((n, c.plan.cell.index, s.lineno))

    def _numeric_metrics(self, names: list[str], c: PreparedCell, line: int) -> None:
        """A metric that the cells before this one evidently set to a string, a table, ...
        is refused at convert, naming where it is set, not after the run's work."""
        index = c.plan.cell.index
        earlier = [(i, p.tree) for i, p in sorted(self.cells.items()) if i < index]
        for name in names:
            found = mlops_tags.last_value(name, earlier)
            kind = mlops_tags.not_a_number(found[1]) if found else None
            if found and kind:
                self.error(
                    f"metric {name!r} is {kind} (set in cell {found[0]}, line "
                    f"{found[1].lineno}), not a number",
                    index,
                    line,
                    "a metrics cell records numbers: print the rest in the step instead",
                )

    def _lift_settings(self, work: StepWork, c: PreparedCell) -> None:
        """Settings made before the first step are replayed in every step, as the imports
        cell's are, instead of running once in `setup`."""
        lines = c.source.split("\n")
        body = c.tree.body
        for s in body:
            if not is_setting(s, set(self.pool)) or self._seed_streams(s):
                continue  # a global random seed stays where it is: the chain carries it
            shares = any(
                o is not s
                and o.lineno <= (s.end_lineno or s.lineno)
                and (o.end_lineno or 0) >= s.lineno
                for o in body
            )
            if not shares:
                work.dropped.add(id(s))
                text = "\n".join(lines[s.lineno - 1 : s.end_lineno])
                self.settings.append(Fragment(c.plan.cell.index, text))

    def _step(self, work: StepWork) -> None:
        walker = self._walk_step(work)
        work.facts = walker.facts
        work.aliases = walker.aliases
        self._resolve_reads(work)
        self._hoist(work)
        self._step_notes(work)
        self._step_origins(work)

    def _walk_step(self, work: StepWork) -> ModuleWalker:
        walker = ModuleWalker(self.funcs, modules=set(self.pool))
        before_first_step = work.name == "setup" and not _starts_step(work.cells[0])
        for c in work.cells:
            if c.plan.role == "metrics":
                self._metrics_cell(work, c)
            if before_first_step:
                self._lift_settings(work, c)
            stmts = [s for s in c.tree.body if id(s) not in work.dropped]
            shown: list[ast.Name] = []
            if c.plan.role in ("step", "metrics") and stmts and is_display(stmts[-1]):
                shown = [n for n in ast.walk(stmts[-1]) if isinstance(n, ast.Name)]
                stmts = stmts[:-1]
            walker.run(stmts, c.plan.cell.index)
            for n in shown:  # dropped, but the notebook stops there on a typo
                self._check_defined(n.id, walker.facts, c.plan.cell.index, n.lineno)
            for s in c.tree.body:
                if (
                    is_setting(s, set(self.pool))
                    and id(s) not in work.dropped
                    and not self._seed_streams(s)
                ):
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
        return walker

    def _step_notes(self, work: StepWork) -> None:
        f = work.facts
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

    def _step_origins(self, work: StepWork) -> None:
        """Where each name the step binds or changes comes from, for the steps after it."""
        f = work.facts
        for n in f.deleted:
            self.origin.pop(n, None)
        for n in list(f.binds) + list(f.mutated):
            if n in work.hoisted:
                self.origin[n] = ("def", work.name)
            elif n in f.imported and n in self.pool:
                self.origin[n] = ("import", "")
            elif n in f.deleted:
                self.origin.pop(n, None)
            elif n not in f.binds and self.origin.get(n, ("", ""))[0] in ("def", "common"):
                cell, line = f.mutated[n]
                self.warn(
                    f"step {work.name!r} changes {n!r}, a shared definition: later steps see "
                    "the change only when they run in the same process, and not from the cache",
                    cell,
                    line,
                    "shared-state",
                )
            else:
                if self.origin.get(n, ("", ""))[0] in ("param", "derived") and n in f.binds:
                    cell, line = f.binds[n]
                    self.note(
                        f"step {work.name!r} reassigns parameter {n!r}: data from here on",
                        cell,
                        line,
                    )
                self.origin[n] = ("step", work.name)

    def _resolve_reads(self, work: StepWork) -> None:
        f = work.facts
        written = {n.id for c in work.cells for n in ast.walk(c.tree) if isinstance(n, ast.Name)}
        work.copied = copies.pull(f, self.copyable, self.funcs, self.origin)
        for n, r in f.reads.items():
            kind, src = self.origin.get(n, ("", ""))
            if n in work.copied:
                continue
            if kind == "step" and self.nested.get(n, ("",))[0] == src:
                _, cell, line, outside = self.nested[n]
                self.error(
                    f"{n!r} is defined inside step {src!r} because it uses "
                    f"{', '.join(outside) or 'its variables'}, so step {work.name!r} cannot use it",
                    cell,
                    line,
                    "return the new values instead of assigning globals"
                    if getattr(self.funcs.get(n), "global_writes", None)
                    else "pass those values as arguments, or define it in a functions cell",
                )
            if kind == "step" and n in self.works[src].facts.imported:
                replay = _block_import(self.works[src], n)
                if replay:  # the step imports the module itself
                    work.extra_imports.add(replay)
                    continue
                self.error(
                    f"{n!r} is a module imported inside a block of step {src!r}; "
                    f"step {work.name!r} cannot receive it",
                    r.cell,
                    r.line,
                    "import it in the imports cell (or at the top level of a cell)",
                )
            if kind == "step":
                work.inputs[n] = src
            elif kind in ("param", "derived"):
                work.params.append(n)
            elif kind == "import":
                if n in written:  # not names only a called function uses
                    work.imports.add(n)
            elif kind == "common":
                work.common.add(n)
            elif kind == "def":
                work.uses_steps.setdefault(src, []).append(n)
            elif n in self.pool:
                if n in written:
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
                    f"{n!r} is defined only in a skip cell (cell {self.skip_binds[n][0]})",
                    r.cell,
                    r.line,
                    SKIP_HINT,
                )
            elif self.stars:
                self.warn(f"{n!r} is undefined unless a star import provides it", r.cell, r.line)
            else:
                self.error(
                    f"name {n!r} is used but never defined",
                    r.cell,
                    r.line,
                    self._did_you_mean(n, "define it in an earlier cell, or make it a parameter"),
                )

    def _hoist(self, work: StepWork) -> None:
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
            if info is not None and not info.is_class and not info.global_writes:
                source = self.cells[cell].source
                self.copyable[name] = copies.make(name, work.name, cell, source, node)
            if isinstance(node, ast.ClassDef):
                self.warn(
                    f"class {name!r} uses {', '.join(outside) or 'step variables'}, so it stays "
                    f"inside step {work.name!r}; its objects cannot be stored as outputs",
                    cell,
                    node.lineno,
                    "local-class",
                )

    # ------------------------------------------------------------ run
    def run(self) -> Analysis:
        layout = self.layout
        self._pending_common_reads: list[tuple[int, Facts]] = []
        self._pending_settings_reads: list[tuple[int, Facts]] = []
        kept_roles = ("parameters", "imports", "functions", "step", "metrics", "validate")
        cells: dict[int, PreparedCell] = {}
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
                        self.skip_binds.setdefault(n, []).append(plan.cell.index)
        self.cells = cells
        self._collect_imports(list(cells.values()))
        if any(c.uses_subprocess for c in cells.values()) and "subprocess" not in self.pool:
            self.pool["subprocess"] = ImportLine("subprocess", "import subprocess", "subprocess", 0)
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
            work = StepWork(name, kind, step_cells)
            for c in step_cells:
                work.after += [a for a in c.plan.after if a not in work.after]
            self.works[name] = work
            self._step(work)
        self._skip_warnings(cells)
        self._gate_splits(layout, cells)
        self._check_step_functions()
        return self._freeze()

    def _freeze(self) -> Analysis:
        common_reads: set[str] = set()
        for _cell, facts in self._pending_common_reads:
            common_reads |= set(facts.reads)
        return Analysis(
            layout=self.layout,
            cells=frozen_map(self.cells),
            works=frozen_map((n, w.freeze()) for n, w in self.works.items()),
            funcs=frozen_map(self.funcs),
            origin=frozen_map(self.origin),
            pool=frozen_map(self.pool),
            stars=tuple(self.stars),
            qualified=frozen_map(self.qualified()),
            parameters=tuple(self.parameters),
            derived=tuple(self.derived),
            derive_frags=tuple(self.derive_frags),
            settings=tuple(self.settings),
            seeds=tuple(self.seeds),
            common=tuple(self.common),
            common_names=frozenset(self.common_names),
            common_funcs=frozen_map(self.common_funcs),
            common_reads=frozenset(common_reads),
            requirements=frozenset(self.requirements),
            diagnostics=tuple(self.diags),
        )

    def _check_defined(self, name: str, facts: Facts, cell: int, line: int) -> None:
        if name in self.origin or name in facts.binds or name in self.pool:
            return
        if name in BUILTIN_NAMES or name in IPYTHON_NAMES or self.stars:
            return
        where = (
            f" only in a skip cell (cell {self.skip_binds[name][0]})"
            if name in self.skip_binds
            else ""
        )
        self.error(
            f"name {name!r} is used but " + (f"defined{where}" if where else "never defined"),
            cell,
            line,
            SKIP_HINT
            if where
            else self._did_you_mean(name, "define it in an earlier cell, or remove the line"),
        )

    def _check_step_functions(self) -> None:
        """A function in a step cell may read a name the notebook defines anywhere (it runs
        when called); a name defined nowhere is an error, as in a functions cell."""
        known = set(self.origin) | set(self.pool) | self.common_names | BUILTIN_NAMES
        known |= IPYTHON_NAMES
        for w in self.works.values():
            known |= set(w.facts.binds) | set(w.defs)
        for w in self.works.values():
            for name, node in w.defs.items():
                info = self.funcs.get(name)
                if info is None:
                    continue
                for n in sorted((info.free | info.def_reads) - known - {name}):
                    if n in self.skip_binds:
                        self.error(
                            f"function {name!r} reads {n!r}, which is defined only in a skip "
                            f"cell (cell {self.skip_binds[n][0]})",
                            info.cell,
                            node.lineno,
                            SKIP_HINT,
                        )
                    if self.stars:
                        self.warn(
                            f"function {name!r} reads {n!r}, undefined unless a star import "
                            "provides it",
                            info.cell,
                            node.lineno,
                        )
                        continue
                    self.error(
                        f"function {name!r} reads {n!r}, which is never defined",
                        info.cell,
                        node.lineno,
                        self._did_you_mean(
                            n, "define it in an earlier cell, or pass it as an argument"
                        ),
                    )

    def _skip_warnings(self, cells: dict[int, PreparedCell]) -> None:
        """A skip cell between the last kept write of a name and a step reading it."""
        params = {p.name: p.cell for p in self.parameters} | {d.name: d.cell for d in self.derived}
        for name, work in self.works.items():
            first = min((c.plan.cell.index for c in work.cells), default=0)
            for n in list(work.inputs) + work.params:
                if n in work.inputs:
                    set_at = max(self.works[work.inputs[n]].facts.touched.get(n, {0}))
                else:
                    set_at = params.get(n, 0)
                late = [i for i in self.skip_binds.get(n, []) if set_at < i < first]
                if late:
                    skip_cell = late[-1]
                    self.warn(
                        f"skip cell {skip_cell} changes {n!r}, which step {name!r} reads: the "
                        "pipeline will differ from the notebook as run",
                        skip_cell,
                        None,
                        "skip-changes-input",
                    )

    def _gate_splits(self, layout: Layout, cells: dict[int, PreparedCell]) -> None:
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


def _starts_step(c: PreparedCell) -> bool:
    words = list(c.plan.cell.tags) + directive_words(c.plan.cell.source)
    return any(w.lower().startswith(("step:", "block:")) for w in words)


def _bound_anywhere(cells: Iterable[PreparedCell]) -> dict[str, int]:
    """Every name a kept cell binds somewhere -> the first such cell."""
    out: dict[str, int] = {}
    for c in cells:
        for node in ast.walk(c.tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                out.setdefault(node.id, c.plan.cell.index)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out.setdefault(node.name, c.plan.cell.index)
    return out


def _block_import(work: StepWork, name: str) -> str:
    """The one import statement binding `name` inside a block of the step ("" if none or
    several differ), for a later step to run itself."""
    found = set()
    for c in work.cells:
        for node in ast.walk(c.tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                for a in node.names:
                    if (a.asname or a.name).split(".")[0] == name and a.name != "*":
                        one = ast.Import([a]) if isinstance(node, ast.Import) else None
                        found.add(ast.unparse(one or ast.ImportFrom(node.module, [a], 0)))
    return found.pop() if len(found) == 1 else ""


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


def analyze(layout: Layout) -> Analysis:
    """The analysis of a tagged notebook (hazards.check and assemble come after it)."""
    return Analyzer(layout).run()
