"""Pipeline -> files of the generated package (rendered by nb2pipe.codegen.templating).

The whole file set is rendered in memory, formatted by ruff and compiled, then written by
nb2pipe.codegen.writeplan (pip-tools style: plan, then apply), which changes only generated files.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2pipe import __version__
from nb2pipe.codegen import display, render, templating, writeplan
from nb2pipe.codegen.location import module_path, package_root
from nb2pipe.codegen.mermaid import mermaid
from nb2pipe.codegen.spec import RUNTIME_TYPES, to_spec
from nb2pipe.compiler import magics
from nb2pipe.compiler.model import Notebook, Parameter, Pipeline, Step
from nb2pipe.compiler.source import indent
from nb2pipe.errors import AnalysisError, OutputError


def notebook_hash(nb: Notebook) -> str:
    """Hash of what the pipeline is made from: cell types, sources and tags (not outputs);
    the runtime computes the same from the file to tell a stale package."""
    from nb2pipe.runtime.freshness import cells_digest

    return cells_digest((c.cell_type, c.source, c.tags) for c in nb.cells)


@functools.cache
def _environment() -> Any:
    return templating.environment(indent_code=indent)


@dataclass(frozen=True)
class _Sig:
    name: str
    annotation: str
    default: str
    has_default: bool


def _signature(p: Parameter) -> _Sig:
    annotation = render.type_expr(p.type, p.optional)
    if p.secret:
        return _Sig(p.name, "str", "", False)
    return _Sig(p.name, annotation, render.py_value(p.default), True)


def _cells_text(cells: tuple[int, ...]) -> str:
    if not cells:
        return ""
    if len(cells) == 1:
        return f"cell {cells[0]}"
    if list(cells) == list(range(cells[0], cells[-1] + 1)):
        return f"cells {cells[0]}-{cells[-1]}"
    return "cells " + ", ".join(map(str, cells))


def _function_doc(step: Step) -> str:
    lines = [step.doc.strip() or f"Step `{step.name}` of the notebook."]
    if step.user_inputs:
        by_src: dict[str, list[str]] = {}
        for var, src in step.user_inputs.items():
            by_src.setdefault(src, []).append(var)
        parts = [f"{', '.join(v)} (from step `{s}`)" for s, v in by_src.items()]
        lines += ["", "Inputs: " + "; ".join(parts) + "."]
    if step.user_outputs:
        lines += [
            "" if not step.user_inputs else "",
            "Outputs: " + ", ".join(step.user_outputs) + ".",
        ]
        if step.user_inputs:
            lines.pop(-2)
    if step.kind == "gate":
        lines += ["", "A validation gate: a failing check stops every later step."]
    return "\n".join(lines)


def _function_name(step: Step, imports: list[str]) -> str:
    """The step's function is named after the step, unless that name is taken at module
    level (a shared function called like the step, say) or is a builtin the step's code
    would then call instead (`step:print`): then `<step>_step`. Records keep the step name."""
    taken = {"Any", *dir(builtins)}
    for line in imports:
        for node in ast.walk(ast.parse(line)):
            if isinstance(node, ast.alias):
                taken.add((node.asname or node.name).split(".")[0])
    for frag in step.hoisted:
        for node in ast.parse(frag.source).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                taken.add(node.name)
    name = step.name
    while name in taken:
        name += "_step"
    return name


def render_files(pipe: Pipeline, out_dir: Path) -> dict[str, str]:
    """Every generated file, relative path -> text (before formatting)."""
    env = _environment()
    nb_abs = Path(pipe.notebook.path).resolve()
    out_abs = out_dir.resolve()
    notebook_rel = Path(os.path.relpath(nb_abs, out_abs)).as_posix()
    workdir = Path(os.path.relpath(nb_abs.parent, out_abs)).as_posix()
    module = module_path(out_dir)
    common_cells = tuple(f.cell for f in pipe.common)
    derived_names = tuple(d.name for d in pipe.derived)
    params = [_signature(p) for p in pipe.parameters]
    param_by_name = {s.name: s for s in params}
    base = {
        "version": __version__,
        "notebook_rel": notebook_rel,
        "name": pipe.name,
        "module": module,
    }
    files: dict[str, str] = {}
    files["__init__.py"] = env.get_template("init.py.j2").render(base)
    files["__main__.py"] = env.get_template("main.py.j2").render(base)
    files["steps/__init__.py"] = env.get_template("steps_init.py.j2").render(base)
    functions: dict[str, str] = {}
    for step in pipe.steps:
        sig = [param_by_name[n] for n in step.params if n in param_by_name]
        sig += [_Sig(n, "Any", "", False) for n in step.params if n in derived_names]
        imports = list(step.imports)
        if step.uses_common:
            imports.append(f"from ..common import {', '.join(step.uses_common)}")
        for src, names in step.uses_steps.items():
            imports.append(f"from .{src} import {', '.join(names)}")
        display_import, display_calls = display.step_calls(
            pipe, step, display.step_names(step, imports)
        )
        if display_import:
            imports.append(display_import)
        functions[step.name] = _function_name(step, imports)
        files[f"steps/{step.name}.py"] = env.get_template("step.py.j2").render(
            base,
            step=step,
            function=functions[step.name],
            step_cells=_cells_text(step.cells),
            imports=render.join_imports(imports),
            signature_params=sig,
            settings=pipe.settings,
            display_calls=display_calls,
            function_doc=_function_doc(step),
            module_doc=step.doc.strip()
            or f"Step `{step.name}` of the notebook {pipe.notebook.name}.",
        )
    pdefs = []
    for p in pipe.parameters:
        pdefs.append(
            {
                "name": p.name,
                "runtime_type": p.type if p.type in RUNTIME_TYPES else "None",
                "default": render.py_value(p.default),
                "help": p.help,
                "optional": p.optional,
                "secret": p.secret,
                "env": p.env,
                "yaml": render.yaml_value(p.default),
                "type_text": render.type_expr(p.type, p.optional),
            }
        )
    runtime = to_spec(
        pipe,
        package=module,
        functions=functions,
        notebook=notebook_rel,
        notebook_sha256=notebook_hash(pipe.notebook),
        workdir=workdir,
    )
    files["pipeline.py"] = env.get_template("pipeline.py.j2").render(
        base,
        pipeline_doc=(
            f"The `{pipe.name}` pipeline: steps, data edges, parameters and gates.\n\n"
            "Read by the runner, the exporters and `nb2pipe graph`; nothing about the DAG "
            "is written anywhere else."
        ),
        parameters=pdefs,
        derive=pipe.derive,
        derive_imports=render.join_imports(pipe.derive_imports),
        derive_params=params,
        derived=pipe.derived,
        derived_names=derived_names,
        steps=runtime.steps,
        notebook_sha256=runtime.notebook_sha256,
        workdir=workdir,
    )
    if pipe.common:
        files["common.py"] = env.get_template("common.py.j2").render(
            base,
            common_cells=_cells_text(common_cells),
            common=pipe.common,
            common_imports=render.join_imports(pipe.common_imports),
        )
    display_text = display.module(env, base, pipe)
    if display_text is not None:
        files[f"{display.MODULE}.py"] = display_text
    files["params.yaml"] = env.get_template("params.yaml.j2").render(base, parameters=pdefs)
    files["requirements.txt"] = env.get_template("requirements.txt.j2").render(
        base, requirements=pipe.requirements
    )
    files["README.md"] = env.get_template("README.md.j2").render(
        base,
        steps=pipe.steps,
        mermaid=mermaid(runtime),
        parameters=pdefs,
        out_rel=module.replace(".", "/"),
    )
    files["ruff.toml"] = env.get_template("ruff.toml").render(base)
    return files


def ruff_bin() -> str:
    from ruff.__main__ import find_ruff_bin

    return str(find_ruff_bin())


def format_tree(folder: Path) -> None:
    """ruff format every .py file with the shipped rule set; fail if ruff cannot parse one."""
    proc = subprocess.run(
        [ruff_bin(), "format", "--no-cache", "--config", str(folder / "ruff.toml"), str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise AnalysisError(
            "internal error: generated code does not format: "
            + " ".join((proc.stderr or proc.stdout).split())[:300],
            hint="please report this with the notebook",
        )


def build(pipe: Pipeline, out_dir: Path) -> dict[str, str]:
    """Render and compile every file, format them with ruff (in a scratch folder), compile
    again; return the final texts."""
    files = render_files(pipe, out_dir)
    for rel, text in files.items():
        if rel.endswith(".py"):
            _compile_rendered(pipe, rel, text)
    with tempfile.TemporaryDirectory(prefix="nb2pipe-format-") as scratch:
        for rel, text in files.items():
            path = Path(scratch) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        format_tree(Path(scratch))
        final = {rel: (Path(scratch) / rel).read_text(encoding="utf-8") for rel in files}
    for rel, text in final.items():
        if rel.endswith(".py"):
            try:
                compile(text, rel, "exec", dont_inherit=True)
            except SyntaxError as exc:
                raise AnalysisError(
                    f"internal error: generated {rel} does not compile: {exc.msg} (line {exc.lineno})",
                    hint="please report this with the notebook",
                ) from None
    return final


_MARKER_CELL = re.compile(r"^\s*# (?:cell|process-wide setting replayed from cell) (\d+)$", re.M)


def _compile_rendered(pipe: Pipeline, rel: str, text: str) -> None:
    """Compile a rendered file before formatting. Python refuses some code only when it
    compiles it (`break` outside a loop, a repeated argument, `nonlocal` at module level):
    such a cell fails in the notebook too, so name its cell and line, not an internal error."""
    try:
        compile(text, rel, "exec", dont_inherit=True)
        return
    except (SyntaxError, ValueError) as exc:
        error = exc
    except (RecursionError, MemoryError):
        raise AnalysisError(
            f"generated {rel} is too deeply nested for Python to compile",
            file=pipe.notebook.path,
            hint="simplify the deeply nested expression in the notebook",
        ) from None
    by_index = {c.index: c for c in pipe.notebook.cells}
    for number in dict.fromkeys(int(n) for n in _MARKER_CELL.findall(text)):
        cell = by_index.get(number)
        if cell is None or cell.cell_type != "code":
            continue
        try:
            source = magics.transform(cell.source, file=pipe.notebook.path, cell=number).source
            compile(source, f"cell {number}", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, True)
        except SyntaxError as exc:
            msg = (exc.msg or "invalid syntax").split("\n")[0]
            raise AnalysisError(
                f"syntax error: {msg}",
                file=pipe.notebook.path,
                cell=number,
                line=exc.lineno,
                hint="fix the cell or tag it 'skip'",
            ) from None
        except Exception:  # noqa: BLE001 - reported by the analysis, or not the culprit
            continue
    detail = error.msg if isinstance(error, SyntaxError) else str(error)
    line = f" (line {error.lineno})" if isinstance(error, SyntaxError) else ""
    raise AnalysisError(
        f"internal error: generated {rel} does not compile: {detail}{line}",
        hint="please report this with the notebook",
    )


def write(pipe: Pipeline, out_dir: Path, *, force: bool = False, check: bool = False) -> list[str]:
    """Write the package (see nb2pipe.codegen.writeplan: only files nb2pipe generated change).
    Returns the files written (with `check`, the stale files, writing nothing)."""
    out_dir = Path(out_dir)
    if not pipe.steps:
        raise AnalysisError(
            "the notebook has no code to run: no step would be generated",
            file=pipe.notebook.path,
            hint="add code cells that are not tagged skip, parameters, imports or functions",
        )
    writeplan.target(out_dir)  # a file, or a dangling symlink: said before any work
    check_package_name(out_dir)
    try:
        final = build(pipe, out_dir)
    except OSError as exc:  # e.g. no room for the scratch folder
        raise OutputError(
            f"cannot write {out_dir}: {exc.strerror or exc}", file=str(out_dir)
        ) from None
    plan = writeplan.sync(final, out_dir, force=force, check=check, module=module_path(out_dir))
    return plan.stale() if check else sorted([*final, writeplan.MANIFEST])


def check_package_name(out_dir: Path) -> None:
    """The folder is imported by name: an identifier that no other module answers to."""
    name = Path(os.path.abspath(out_dir)).name
    if not render.IDENT.fullmatch(name):
        raise OutputError(
            f"the output folder name {name!r} is not a Python identifier",
            file=str(out_dir),
            hint="python -m needs one, e.g. -o pipelines/wine",
        )
    top = module_path(out_dir).split(".")[0]
    taken = _module_elsewhere(top, Path(os.path.abspath(out_dir)))
    if taken:
        raise OutputError(
            f"the package name {top!r} is taken by {taken}: `python -m {module_path(out_dir)}` "
            "would not run the pipeline",
            hint=f"use another folder name, e.g. -o pipelines/{name}",
        )


def _module_elsewhere(top: str, out_abs: Path) -> str | None:
    """What else `import top` would find: the standard library, or an installed module."""
    if top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "nb2pipe":
        return "a module of Python's standard library" if top != "nb2pipe" else "nb2pipe"
    # where `python -m` looks from the package root, past the root itself: the installed
    # locations (not this process's working folder, which `python -m` does not search)
    here = {"", os.getcwd()}
    search = [p for p in sys.path if p not in here]
    try:
        spec = importlib.machinery.PathFinder.find_spec(top, search)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        # nothing, or a namespace package (a folder without __init__.py, such as the
        # pipelines/ of another checkout on sys.path): its portions merge with ours, and
        # the package root, first on sys.path under `python -m`, provides our package
        return None
    ours = package_root(out_abs) / top
    places = [spec.origin] if spec.origin and spec.has_location else []
    places += list(spec.submodule_search_locations or [])
    for place in places:
        try:
            if not Path(place).resolve().is_relative_to(ours.resolve()):
                return f"the installed module at {place}"
        except (OSError, ValueError):
            return "an installed module"
    return None
