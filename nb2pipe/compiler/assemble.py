"""Assembly: from analysed steps to the Pipeline model: outputs (terminal steps keep what
they define), metrics, gate edges, the cycle check, imports and distributions per step,
requirements and imports kept for their effect."""

from __future__ import annotations

import ast
import graphlib
import os
import re
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from nb2pipe.compiler.lowering import fragments
from nb2pipe.compiler.mlops_tags import metric_directions, primary_metrics, step_models
from nb2pipe.compiler.model import Pipeline, Step
from nb2pipe.compiler.rules import distribution
from nb2pipe.compiler.tags import identifier
from nb2pipe.errors import AnalysisError, StrictError
from nb2pipe.runtime.randomstate import RANDOM_STATE

if TYPE_CHECKING:
    from nb2pipe.compiler.analysis import Analyzer, PreparedCell, StepWork

RUNTIME_REQUIREMENTS = ("nb2pipe", "cloudpickle", "joblib", "pyarrow", "pyyaml")
STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
EFFECT_IMPORT = re.compile(r"\bexperimental\b|\bimport enable_\w+")


def assemble(an: Analyzer, cells: dict[int, PreparedCell]) -> Pipeline:
    return _assemble(an, cells)


def _assemble(an: Analyzer, cells: dict[int, PreparedCell]) -> Pipeline:
    works = an.works
    order = list(works)
    outputs: dict[str, list[str]] = {n: [] for n in order}
    metrics: dict[str, list[str]] = {n: [] for n in order}
    dependents: dict[str, set[str]] = {n: set() for n in order}
    directions: dict[str, str] = {}
    primary: list[str] = []  # metrics marked `# primary`
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
                kind, src = an.origin.get(var, ("", ""))
                producer = src if kind == "step" else None
            if producer is None:
                an.warn(f"metric {var!r} is not computed by any step", cell, line)
                continue
            if var not in metrics[producer]:
                metrics[producer].append(var)
            if var not in outputs[producer]:
                outputs[producer].append(var)
        directions.update(metric_directions(w))  # `# lower` / `# higher` comments
        primary += primary_metrics(w)
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
    _check_cycles(an, order)
    steps: list[Step] = []
    for n in order:
        w = works[n]
        f = w.facts
        outs = outputs[n]
        models = step_models(w, an.error)  # model:NAME -> (NAME, variable), an output
        outs.extend(var for _, var in models if var not in outs)
        # An input the step changes in place is its output too: the new value is the
        # step's, and the runtime guard checks exactly the inputs that are not outputs.
        outs.extend(v for v in w.inputs if v in w.facts.mutated and v not in outs)
        if not dependents[n] and w.kind == "step":
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
                an.warn(f"{var!r} is {what}: step {n!r} cannot store it as an output ({fix})",
                        cell, line, "unstorable")  # fmt: skip
        step = _build_step(an, w, tuple(outs), tuple(metrics[n]))
        declared = {m: d for m, d in directions.items() if m in step.metrics}
        first = next((m for m in primary if m in step.metrics), "")
        steps.append(
            _random(
                an,
                replace(
                    step,
                    models=tuple(f"{m}={v}" for m, v in models),
                    directions=declared,
                    primary=first,
                ),
            )
        )
    return _pipeline(an, steps, cells)


def _random(an: Analyzer, step: Step) -> Step:
    """The step's part in the chain of global random state (randomness.plan): the state
    it continues is an input, the state it leaves for a later step an output."""
    plan = an.random_plan
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


def _check_cycles(an: Analyzer, order: list[str]) -> None:
    ts: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for n in order:
        w = an.works[n]
        random_from = an.random_plan.source.get(n)
        ts.add(n, *w.inputs.values(), *w.after, *([random_from] if random_from else []))
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


def _build_step(
    an: Analyzer, w: StepWork, outputs: tuple[str, ...], metrics: tuple[str, ...]
) -> Step:
    body, hoisted = fragments(an, w)
    used_imports = set(w.imports) | _settings_names(an)
    placed = [*an.settings, *an.random_plan.seeds.get(w.name, ())]  # run at its start
    for n in sorted(set().union(*(_names(f.source) for f in placed))):
        kind = an.origin.get(n, ("", ""))[0]
        if n in an.pool:
            used_imports.add(n)
        elif kind in ("param", "derived") and n not in w.params:
            w.params.append(n)  # np.random.seed(seed): the parameter reaches the step
        elif kind == "common":
            w.common.add(n)
    loads = {n.id for c in w.cells for n in ast.walk(c.tree) if isinstance(n, ast.Name)}
    used_imports |= loads & w.facts.imported & set(an.pool)
    for name in w.hoisted:
        info = an.funcs[name]
        used_imports |= (info.free | info.def_reads) & set(an.pool)
    for hoisted_name in w.hoisted:
        w.common |= (an.funcs[hoisted_name].free | an.funcs[hoisted_name].def_reads) & (
            an.common_names
        )
    ordered = sorted(used_imports, key=lambda n: _import_order(an, n))
    imports = list(dict.fromkeys(an.pool[n].text for n in ordered))
    imports += [s.text for s in an.stars]
    imports += sorted(w.extra_imports)
    dists = sorted(
        {distribution(an.pool[n].module) for n in used_imports if _is_dist(an, an.pool[n].module)}
        | {distribution(s.module) for s in an.stars if _is_dist(an, s.module)}
    )
    an.requirements.update(dists)
    common = _common_closure(an, w.common)
    cells = tuple(c.plan.cell.index for c in w.cells)
    foreign = tuple(dict.fromkeys(t for c in w.cells for t in c.plan.foreign_tags))
    models = tuple(c.plan.model_name for c in w.cells if c.plan.model_name)
    doc = an.layout.docs.get(w.name, "")
    return Step(
        name=w.name,
        kind=w.kind,  # type: ignore[arg-type]
        cells=cells,
        doc=doc,
        inputs=dict(w.inputs),
        outputs=outputs,
        params=tuple(p for p in _param_order(an) if p in w.params),
        after=tuple(a for a in w.after if a not in w.inputs.values()),
        metrics=metrics,
        models=models,
        imports=tuple(imports),
        body=body,
        hoisted=hoisted,
        uses_common=tuple(sorted(common)),
        uses_steps={k: tuple(dict.fromkeys(v)) for k, v in sorted(w.uses_steps.items())},
        distributions=tuple(dists),
        files=_files(an, w),
        foreign_tags=foreign,
        mutates=tuple(v for v in w.inputs if v in w.facts.mutated),
        maybe_unset=tuple(
            v
            for v in outputs
            if v in w.facts.binds
            and v not in w.facts.must
            and v not in w.inputs
            and v not in w.params
        ),
    )


def _names(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def _settings_names(an: Analyzer) -> set[str]:
    names: set[str] = set()
    for frag in an.settings:
        names |= _names(frag.source)
    return names & set(an.pool)


def _import_order(an: Analyzer, name: str) -> tuple[int, str]:
    """The notebook's own order, so imports that must come first stay first."""
    return (an.pool[name].seq, name)


def _param_order(an: Analyzer) -> list[str]:
    return [p.name for p in an.parameters] + [d.name for d in an.derived]


def _is_dist(an: Analyzer, module: str) -> bool:
    top = module.split(".")[0]
    if not top or top in STDLIB:
        return False
    folder = os.path.dirname(os.path.abspath(an.file))
    return not (
        os.path.exists(os.path.join(folder, top + ".py"))
        or os.path.isdir(os.path.join(folder, top))
    )


def _common_closure(an: Analyzer, names: set[str]) -> set[str]:
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


def _files(an: Analyzer, w: StepWork) -> tuple[str, ...]:
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


def _pipeline(an: Analyzer, steps: list[Step], cells: dict[int, PreparedCell]) -> Pipeline:
    needed = set()
    for _cell, facts in an._pending_common_reads:
        needed |= set(facts.reads) & set(an.pool)
    for info in an.common_funcs.values():
        needed |= (info.free | info.def_reads) & set(an.pool)
    common_imports = list(
        dict.fromkeys(an.pool[n].text for n in sorted(needed, key=lambda n: _import_order(an, n)))
    )
    common_imports += [s.text for s in an.stars]  # what a star import provides is unknown
    derive_needed: set[str] = set()
    for frag in an.derive_frags:
        tree = ast.parse(frag.source)
        derive_needed |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & set(an.pool)
    for n in needed | derive_needed:
        if _is_dist(an, an.pool[n].module):
            an.requirements.add(distribution(an.pool[n].module))
    # Imports used by nothing in the pipeline: dropped, unless kept for their effect.
    used = {n for s in steps for n in s.imports} | needed | derive_needed
    all_reads = set(needed | derive_needed)
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
            an.note(f"import of {name!r} kept in every step for its effect", imp.cell)
        else:
            an.note(f"import of {name!r} is not used by the pipeline: left out", imp.cell)
    if effect:
        steps = [replace(s, imports=tuple(dict.fromkeys(s.imports + tuple(effect)))) for s in steps]
        for t in effect:
            mod = t.split()[1]
            if _is_dist(an, mod):
                an.requirements.add(distribution(mod))
    name = identifier(an.nb.name, "pipeline")
    diags = tuple(an.diags)
    if an.strict:
        first = next((d for d in diags if d.severity == "warning"), None)
        if first is not None:
            raise StrictError(
                f"--strict: {first.message}", file=an.file, cell=first.cell, line=first.line
            )
    return Pipeline(
        name=name,
        notebook=an.nb,
        parameters=tuple(an.parameters),
        derived=tuple(an.derived),
        steps=tuple(steps),
        requirements=tuple(sorted(an.requirements | set(RUNTIME_REQUIREMENTS))),
        diagnostics=diags,
        split=an.layout.split,
        settings=tuple(an.settings),
        common=tuple(an.common),
        common_imports=tuple(common_imports),
        derive=tuple(an.derive_frags),
        derive_imports=tuple(
            an.pool[n].text for n in sorted(derive_needed, key=lambda n: _import_order(an, n))
        ),
    )


def _unstorable(cells: list[PreparedCell]) -> set[str]:
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
