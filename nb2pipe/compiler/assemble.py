"""Assembly: from analysed steps to the Pipeline model: outputs (terminal steps keep what
they define), metrics, gate edges, the cycle check, imports and distributions per step,
requirements and imports kept for their effect. A function of the Analysis: it reads it
and changes nothing in it."""

from __future__ import annotations

import ast
import graphlib
import os
import re
import sys
from dataclasses import dataclass, field, replace

from nb2pipe.compiler import display
from nb2pipe.compiler.analysed import Analysis, Log, PreparedCell, StepAnalysis
from nb2pipe.compiler.lowering import Lowered, fragments
from nb2pipe.compiler.mlops_tags import metric_directions, primary_metrics, step_models
from nb2pipe.compiler.model import Pipeline, Step
from nb2pipe.compiler.rules import distribution
from nb2pipe.compiler.tags import identifier
from nb2pipe.errors import AnalysisError
from nb2pipe.runtime.randomstate import RANDOM_STATE

# a worker, a KFP component or a server installs the runtime only, not the compiler stack
RUNTIME_REQUIREMENTS = ("nb2pipe-runtime", "cloudpickle", "joblib", "pyarrow", "pyyaml")
STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
EFFECT_IMPORT = re.compile(r"\bexperimental\b|\bimport enable_\w+")


@dataclass
class _Edges:
    """What the steps' inputs and metric declarations make of each step."""

    outputs: dict[str, list[str]]
    metrics: dict[str, list[str]]
    dependents: dict[str, set[str]]
    after: dict[str, list[str]]  # after: tags, then the gates before the step
    directions: dict[str, str] = field(default_factory=dict)  # `# lower` / `# higher`
    primary: list[str] = field(default_factory=list)  # metrics marked `# primary`


def assemble(an: Analysis) -> Pipeline:
    log = Log()
    edges = _edges(an, log)
    _gate_edges(an, edges)
    _check_cycles(an, edges.after)
    steps = [_step(an, w, edges, log) for w in an.works.values()]
    return _pipeline(an, steps, log)


def _edges(an: Analysis, log: Log) -> _Edges:
    order = list(an.works)
    e = _Edges(
        outputs={n: [] for n in order},
        metrics={n: [] for n in order},
        dependents={n: set() for n in order},
        after={n: list(w.after) for n, w in an.works.items()},
    )
    for w in an.works.values():
        for var, src in w.inputs.items():
            if var not in e.outputs[src]:
                e.outputs[src].append(var)
            e.dependents[src].add(w.name)
        for a in w.after:
            e.dependents[a].add(w.name)
        for var, cell, line in w.metric_decls:
            producer = _producer(an, w, var)
            if producer is None:
                log.warn(f"metric {var!r} is not computed by any step", cell, line)
                continue
            if var not in e.metrics[producer]:
                e.metrics[producer].append(var)
            if var not in e.outputs[producer]:
                e.outputs[producer].append(var)
        e.directions.update(metric_directions(w))
        e.primary += primary_metrics(w)
    return e


def _producer(an: Analysis, w: StepAnalysis, var: str) -> str | None:
    if var in w.facts.binds or var in w.facts.mutated:
        return w.name
    kind, src = an.origin.get(var, ("", ""))
    return src if kind == "step" else None


def _gate_edges(an: Analysis, e: _Edges) -> None:
    """Gates stop every step after them in the notebook."""
    ancestors: dict[str, set[str]] = {}
    gates_so_far: list[str] = []
    for n, w in an.works.items():
        anc: set[str] = set()
        for up in list(w.inputs.values()) + e.after[n]:
            anc |= {up} | ancestors.get(up, set())
        for g in gates_so_far:
            if g not in anc:
                e.after[n].append(g)
                e.dependents[g].add(n)
                anc |= {g} | ancestors.get(g, set())
        ancestors[n] = anc
        if w.kind == "gate":
            gates_so_far.append(n)


def _step(an: Analysis, w: StepAnalysis, e: _Edges, log: Log) -> Step:
    n, f = w.name, w.facts
    outs = e.outputs[n]
    models = step_models(w, an.error)  # model:NAME -> (NAME, variable), an output
    outs.extend(var for _, var in models if var not in outs)
    # An input the step changes in place is its output too: the new value is the
    # step's, and the runtime guard checks exactly the inputs that are not outputs.
    outs.extend(v for v in w.inputs if v in f.mutated and v not in outs)
    if not e.dependents[n] and w.kind == "step":
        # A step nothing depends on keeps what it defines on every path, except
        # definitions, modules, file handles, lambdas and generators.
        unstorable = set(w.defs) | f.imported | _unstorable(w.cells)
        unstorable |= set(an.unstorable.get(n, {}))
        for var in dict.fromkeys([*f.binds, *f.mutated]):
            kept = var in f.must or var in w.inputs
            if kept and var not in unstorable | f.deleted and var not in outs:
                outs.append(var)
    for var in outs:
        if var in an.unstorable.get(n, {}):
            what, fix, cell, line = an.unstorable[n][var]
            log.warn(f"{var!r} is {what}: step {n!r} cannot store it as an output ({fix})",
                     cell, line, "unstorable")  # fmt: skip
    step = _build_step(an, w, tuple(outs), tuple(e.metrics[n]), e.after[n])
    step = replace(
        step,
        models=tuple(f"{m}={v}" for m, v in models),
        directions={m: d for m, d in e.directions.items() if m in step.metrics},
        primary=next((m for m in e.primary if m in step.metrics), ""),
        display=display.uses(an, w),
    )
    return _random(an, step)


def _random(an: Analysis, step: Step) -> Step:
    """The step's part in the chain of global random state (randomness.plan): the state
    it continues is an input, the state it leaves for a later step an output."""
    plan = an.random
    inputs, outputs = dict(step.inputs), step.outputs
    if step.name in plan.source:
        inputs[RANDOM_STATE] = plan.source[step.name]
    if step.name in plan.carries:
        outputs += (RANDOM_STATE,)
    return replace(
        step,
        inputs=inputs,
        outputs=outputs,
        random=plan.chain.get(step.name, ()),
        random_guard=plan.guard.get(step.name, ()),
        seeds=tuple(plan.seeds.get(step.name, ())),
    )


def _check_cycles(an: Analysis, after: dict[str, list[str]]) -> None:
    ts: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for n, w in an.works.items():
        random_from = an.random.source.get(n)
        ts.add(n, *w.inputs.values(), *after[n], *([random_from] if random_from else []))
    try:
        ts.prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        culprit = next(
            (
                c.plan.cell.index
                for n in cycle
                for c in an.works[n].cells
                if set(c.plan.after) & set(cycle)
            ),
            None,
        )
        raise AnalysisError(
            "the steps form a cycle: " + " -> ".join(cycle),
            file=an.file,
            cell=culprit,
            hint="an after: tag points to a later step; remove it",
        ) from None


@dataclass(frozen=True)
class _Needs:
    """What a step's module needs besides its body: imports, parameters, shared code."""

    imports: tuple[str, ...]
    distributions: tuple[str, ...]
    params: tuple[str, ...]
    common: tuple[str, ...]
    modules: tuple[str, ...]  # files of modules beside the notebook that the step imports


def _needs(an: Analysis, w: StepAnalysis, low: Lowered) -> _Needs:
    used_imports = set(w.imports) | low.imports | _settings_names(an)
    params, common = list(w.params), set(w.common)
    placed = [*an.settings, *an.random.seeds.get(w.name, ())]  # run at its start
    for n in sorted(set().union(*(_names(f.source) for f in placed))):
        kind = an.origin.get(n, ("", ""))[0]
        if n in an.pool:
            used_imports.add(n)
        elif kind in ("param", "derived") and n not in params:
            params.append(n)  # np.random.seed(seed): the parameter reaches the step
        elif kind == "common":
            common.add(n)
    loads = {n.id for c in w.cells for n in ast.walk(c.tree) if isinstance(n, ast.Name)}
    used_imports |= loads & w.facts.imported & set(an.pool)
    for name in [*w.hoisted, *w.copied]:
        info = an.funcs[name]
        used_imports |= (info.free | info.def_reads) & set(an.pool)
        common |= (info.free | info.def_reads) & an.common_names
    ordered = sorted(used_imports, key=lambda n: _import_order(an, n))
    imports = list(dict.fromkeys(an.pool[n].text for n in ordered))
    imports += [s.text for s in an.stars]
    imports += sorted(w.extra_imports | low.extra_imports)
    dists = sorted(
        {distribution(an.pool[n].module) for n in used_imports if _is_dist(an, an.pool[n].module)}
        | {distribution(s.module) for s in an.stars if _is_dist(an, s.module)}
    )
    common = _common_closure(an, common)
    return _Needs(
        imports=tuple(imports),
        distributions=tuple(dists),
        params=tuple(p for p in _param_order(an) if p in params),
        common=tuple(sorted(common)),
        modules=_local_modules(an, used_imports, common),
    )


def _local_modules(an: Analysis, used_imports: set[str], common: set[str]) -> tuple[str, ...]:
    """The files of the modules beside the notebook that the step imports (its imports,
    those in its cells among them, and those of the shared functions it calls)."""
    names = set(used_imports)
    for name in common:
        info = an.common_funcs.get(name)
        if info:
            names |= (info.free | info.def_reads) & set(an.pool)
    modules = {an.pool[n].module for n in names}
    return tuple(sorted(filter(None, (_local_module(an, m) for m in modules))))


def _build_step(
    an: Analysis,
    w: StepAnalysis,
    outputs: tuple[str, ...],
    metrics: tuple[str, ...],
    after: list[str],
) -> Step:
    low = fragments(an, w)
    needs = _needs(an, w, low)
    return Step(
        name=w.name,
        kind=w.kind,  # type: ignore[arg-type]
        cells=tuple(c.plan.cell.index for c in w.cells),
        doc=an.layout.docs.get(w.name, ""),
        inputs=dict(w.inputs),
        outputs=outputs,
        params=needs.params,
        after=tuple(a for a in after if a not in w.inputs.values()),
        metrics=metrics,
        models=tuple(c.plan.model_name for c in w.cells if c.plan.model_name),
        imports=needs.imports,
        body=low.body,
        hoisted=low.hoisted,
        uses_common=needs.common,
        uses_steps={k: tuple(dict.fromkeys(v)) for k, v in sorted(w.uses_steps.items())},
        distributions=needs.distributions,
        files=tuple(sorted({*_files(an, w), *needs.modules})),
        foreign_tags=tuple(dict.fromkeys(t for c in w.cells for t in c.plan.foreign_tags)),
        mutates=tuple(v for v in w.inputs if v in w.facts.mutated),
        maybe_unset=tuple(
            v
            for v in outputs
            if v in w.facts.binds
            and v not in w.facts.must
            and v not in w.inputs
            and v not in needs.params
        ),
    )


def _names(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def _settings_names(an: Analysis) -> set[str]:
    names: set[str] = set()
    for frag in an.settings:
        names |= _names(frag.source)
    return names & set(an.pool)


def _import_order(an: Analysis, name: str) -> tuple[int, str]:
    """The notebook's own order, so imports that must come first stay first."""
    return (an.pool[name].seq, name)


def _param_order(an: Analysis) -> list[str]:
    return [p.name for p in an.parameters] + [d.name for d in an.derived]


def _is_dist(an: Analysis, module: str) -> bool:
    top = module.split(".")[0]
    return bool(top) and top not in STDLIB and _local_module(an, module) is None


def _local_module(an: Analysis, module: str) -> str | None:
    """The file (`helpers.py`) or folder (`helpers`) beside the notebook that `import
    module` finds, as Jupyter finds it (the kernel's working folder is on sys.path); the
    step's cache key includes it, and the runtime makes the folder importable."""
    top = module.split(".")[0]
    if not top or top in STDLIB:
        return None
    folder = os.path.dirname(os.path.abspath(an.file))
    if os.path.isfile(os.path.join(folder, top + ".py")):
        return top + ".py"
    # a package, not a folder named like a library (wandb/ holds wandb's run logs)
    return top if os.path.isfile(os.path.join(folder, top, "__init__.py")) else None


def _common_closure(an: Analysis, names: set[str]) -> set[str]:
    out, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in out or n not in an.common_names:
            continue
        out.add(n)
        info = an.common_funcs.get(n)
        if info:
            todo += list((info.free | info.def_reads) & an.common_names)
    return out


def _files(an: Analysis, w: StepAnalysis) -> tuple[str, ...]:
    folder = os.path.dirname(os.path.abspath(an.file))
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


def _pipeline(an: Analysis, steps: list[Step], log: Log) -> Pipeline:
    needed = an.common_reads & set(an.pool)
    for info in an.common_funcs.values():
        needed |= (info.free | info.def_reads) & set(an.pool)
    common_imports = [an.pool[n].text for n in sorted(needed, key=lambda n: _import_order(an, n))]
    common_imports = list(dict.fromkeys(common_imports))
    common_imports += [s.text for s in an.stars]  # what a star import provides is unknown
    derive_needed: set[str] = set()
    for frag in an.derive_frags:
        derive_needed |= _names(frag.source) & set(an.pool)
    display_needed: set[str] = set()
    for d in an.display:
        for frag in d.fragments:
            display_needed |= _names(frag.source) & set(an.pool)
    requirements = set(an.requirements) | {d for s in steps for d in s.distributions}
    requirements |= {
        distribution(an.pool[n].module)
        for n in needed | derive_needed | display_needed
        if _is_dist(an, an.pool[n].module)
    }
    effect = _effect_imports(an, steps, needed | derive_needed | display_needed, log)
    if effect:
        steps = [replace(s, imports=_notebook_order(an, effect + list(s.imports))) for s in steps]
        requirements |= {distribution(t.split()[1]) for t in effect if _is_dist(an, t.split()[1])}
    return Pipeline(
        name=identifier(an.notebook.name, "pipeline"),
        notebook=an.notebook,
        parameters=an.parameters,
        derived=an.derived,
        steps=tuple(steps),
        requirements=tuple(sorted(requirements | set(RUNTIME_REQUIREMENTS))),
        diagnostics=an.diagnostics + tuple(log),
        split=an.layout.split,
        settings=an.settings,
        common=an.common,
        common_imports=tuple(common_imports),
        derive=an.derive_frags,
        derive_imports=tuple(
            an.pool[n].text for n in sorted(derive_needed, key=lambda n: _import_order(an, n))
        ),
        display=an.display,
        display_imports=tuple(
            an.pool[n].text for n in sorted(display_needed, key=lambda n: _import_order(an, n))
        ),
    )


def _notebook_order(an: Analysis, texts: list[str]) -> tuple[str, ...]:
    """Import statements in the notebook's order (an effect import such as
    ``enable_halving_search_cv`` must come before the import it enables); others after."""
    seq = {imp.text: imp.seq for imp in an.pool.values()}
    unique = list(dict.fromkeys(texts))
    return tuple(sorted(unique, key=lambda t: (t not in seq, seq.get(t, 0), unique.index(t))))


def _effect_imports(an: Analysis, steps: list[Step], needed: set[str], log: Log) -> list[str]:
    """Imports used by nothing in the pipeline are dropped, unless kept for their effect
    (``from sklearn.experimental import enable_...``): those go to every step."""
    used = {n for s in steps for n in s.imports} | needed
    all_reads = set(needed)
    for w in an.works.values():
        all_reads |= set(w.facts.reads)
        for h in w.hoisted:
            all_reads |= an.funcs[h].free | an.funcs[h].def_reads
    effect = []
    for name, imp in an.pool.items():
        if name in all_reads or imp.text in used:
            continue
        if EFFECT_IMPORT.search(imp.text):
            effect.append(imp.text)
            log.note(f"import of {name!r} kept in every step for its effect", imp.cell)
        else:
            log.note(f"import of {name!r} is not used by the pipeline: left out", imp.cell)
    return effect


def _unstorable(cells: tuple[PreparedCell, ...]) -> set[str]:
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
