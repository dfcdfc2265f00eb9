"""``nb2pipe export kfp DIR``: a Kubeflow Pipelines v2 pipeline (kfp.dsl), compiled to YAML.

One lightweight Python component per step. The package's code (and, by default, nb2pipe's
runtime) travels inside each component through KFP's ``embedded_artifact_path`` (kfp >=
2.16): the exported file carries them as one gzipped tar and unpacks it when imported, so
it compiles anywhere kfp is installed. Components install the package's requirements
(``packages_to_install``) and call :func:`nb2pipe.runtime.remote.run_kfp_step`.

The export writes the Python pipeline and, when kfp is importable here (or ``--set
kfp_python=PATH`` names an interpreter that has it), runs it to write the YAML that KFP
uploads next to it. ``--no-compile`` writes the Python only.

Kale's tags are honoured: ``limit:cpu:N``, ``limit:memory:4Gi`` and accelerator limits
such as ``limit:nvidia.com/gpu:1`` set the task's resources; ``image:NAME`` sets the
step's base image.
"""

from __future__ import annotations

import ast
import base64
import gzip
import importlib.util
import io
import math
import re
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nb2pipe.runtime
from nb2pipe.codegen import render
from nb2pipe.exporters.airflow import topological
from nb2pipe.exporters.base import (
    ExportContext,
    Exporter,
    ExportError,
    ExportResult,
    Option,
    check_python,
    inert,
    render_template,
    requirement_name,
    requirements,
    ruff_format,
    shown,
)
from nb2pipe.runtime.hashing import strip_docstrings

_NATIVE = {int: "int", float: "float", bool: "bool", str: "str"}
_FIT = {"fit", "partial_fit"}


def kale_resources(tags: tuple[str, ...]) -> tuple[list[str], str | None, list[str]]:
    """Kale's ``limit:RESOURCE:VALUE`` and ``image:NAME`` tags -> task method calls (as
    code, values rendered with repr), the step's image, and notes on tags left out."""
    calls: list[str] = []
    image: str | None = None
    notes: list[str] = []
    for tag in tags:
        kind, _, rest = tag.partition(":")
        if kind == "image" and rest.strip():
            image = rest.strip()
        elif kind == "limit":
            resource, sep, value = rest.rpartition(":")
            resource, value = resource.strip(), value.strip()
            if not sep or not resource or not value:
                notes.append(f"tag {tag!r}: expected limit:RESOURCE:VALUE")
            elif resource == "cpu":
                calls.append(f"set_cpu_limit({value!r})")
            elif resource == "memory":
                calls.append(f"set_memory_limit({value!r})")
            elif "/" in resource:  # nvidia.com/gpu, amd.com/gpu, ...
                try:
                    count = int(value)
                except ValueError:
                    notes.append(f"tag {tag!r}: an accelerator limit is a whole number")
                    continue
                calls.append(f"set_accelerator_type({resource!r})")
                calls.append(f"set_accelerator_limit({count!r})")
            else:
                notes.append(f"tag {tag!r}: KFP's DSL sets cpu, memory and accelerators only")
        elif kind in ("annotation", "label"):
            notes.append(f"tag {tag!r}: Kale's pod {kind}s need kfp-kubernetes; left out")
    return calls, image, notes


def fitted_names(source: str) -> set[str]:
    """Names the step fits (``m.fit(...)``, ``m = Model().fit(...)``): KFP Models."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _FIT and isinstance(node.func.value, ast.Name):
                names.add(node.func.value.id)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr in _FIT:
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def model_names(step: Any) -> set[str]:
    out = set()
    for entry in step.models:  # "NAME=VARIABLE", or "NAME" for the output NAME
        out.add(entry.split("=", 1)[1] if "=" in entry else entry)
    return out


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _strip_docstrings(source: str, filename: str) -> str:
    """The runtime's modules without docstrings: a smaller bundle, the same code."""
    return ast.unparse(strip_docstrings(ast.parse(source, filename))) + "\n"


def runtime_requirements() -> list[str]:
    """nb2pipe-runtime's declared dependencies (extras left out), as pip requirements."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        declared = requires("nb2pipe-runtime") or []
    except PackageNotFoundError:  # pragma: no cover - nb2pipe depends on it
        return []
    # Without environment markers (their quotes cannot reach the component's pip command):
    # a requirement is kept when its marker holds here, on the Python of the default image
    # (tomli: Python 3.10 only).
    from packaging.requirements import Requirement  # nbconvert's dependency

    kept = []
    for text in declared:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            req.marker = None
            kept.append(str(req).replace(" ", ""))
    return kept


def bundle(ctx: ExportContext, embed_runtime: bool) -> bytes:
    """A deterministic tar.gz: the package under its import path (its .py files and
    params.yaml) and, with ``embed_runtime``, nb2pipe/runtime (nb2pipe is a namespace
    package in the component: the runtime imports nothing outside itself)."""
    files: dict[str, bytes] = {}
    prefix = "/".join(ctx.package.split("."))
    for path in sorted(ctx.package_dir.rglob("*")):
        rel = path.relative_to(ctx.package_dir)
        if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        if path.is_file() and (path.suffix == ".py" or rel.as_posix() == "params.yaml"):
            files[f"{prefix}/{rel.as_posix()}"] = path.read_bytes()
    if embed_runtime:
        root = Path(nb2pipe.runtime.__file__).resolve().parent.parent
        runtime = root / "runtime"
        for path in sorted(runtime.rglob("*.py")):
            rel = path.relative_to(root.parent).as_posix()
            folders = path.relative_to(runtime).parents
            # the runtime's packages only (not a build/ folder a wheel build left), and
            # not the cluster executors, which a component never uses
            if any(not (runtime / f / "__init__.py").is_file() for f in folders) or (
                path.relative_to(runtime).parts[0] == "cluster"
            ):
                continue
            text = path.read_text(encoding="utf-8")
            files[rel] = _strip_docstrings(text, rel).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            _tar_add(tar, name, files[name])
    return gzip.compress(buf.getvalue(), compresslevel=9, mtime=0)


class KfpExporter(Exporter):
    name = "kfp"
    summary = "a Kubeflow Pipelines v2 pipeline: one component per step, compiled to YAML"
    options = (
        Option("image", "base image of the components (default: python:X.Y of this Python)"),
        Option(
            "nb2pipe_requirement",
            "install nb2pipe in each component from this pip requirement instead of "
            "embedding its runtime; 'none': the image has it",
        ),
        Option("compile", "compile to YAML (default: when kfp is importable)", bool, None),
        Option("kfp_python", "an interpreter with kfp installed, to compile with"),
        Option("retries", "retries of a failing step (not gates)", int, 0),
        Option(
            "timeout",
            "seconds a step may run (KFP's DSL has no task timeout: the runtime in the "
            "component stops the step; a step's `timeout=S` option wins)",
            float,
            None,
        ),
    )

    def default_output(self, ctx: ExportContext, options: Mapping[str, Any]) -> Path:
        return Path(f"{ctx.pipeline.name}_kfp.py")

    def render(self, ctx: ExportContext, output: Path, options: Mapping[str, Any]) -> ExportResult:
        pipeline = ctx.pipeline
        notes: list[str] = []
        if output.suffix != ".py":
            raise ExportError(f"-o {output}: the KFP pipeline is a Python file (.py)")
        image = options["image"] or f"python:{sys.version_info[0]}.{sys.version_info[1]}"
        spec = options["nb2pipe_requirement"]
        embed = spec is None
        packages = [
            r
            for r in requirements(ctx)
            if requirement_name(r) not in ("nb2pipe", "nb2pipe-runtime")
        ]
        if spec is not None and spec.strip().lower() != "none":
            packages.append(spec.strip())
        if embed:  # the embedded runtime's own dependencies (nb2pipe-runtime's metadata)
            named = {requirement_name(p) for p in packages}
            packages += [r for r in runtime_requirements() if requirement_name(r) not in named]
        for req in packages:  # KFP quotes them with Python's repr inside a shell command
            if re.search(r"[\\'\"$`\s]", req.replace(" ", "")):
                raise ExportError(
                    f"requirement {req!r}: quotes, '$', '`', '\\' and line breaks cannot reach "
                    "the components' pip command safely",
                    hint="fix requirements.txt or --nb2pipe-requirement",
                )
        retries = options["retries"]
        if retries < 0:
            raise ExportError("--retries must be >= 0")
        timeout = options["timeout"]
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise ExportError("--timeout: a positive number of seconds")

        # pipeline parameters: native KFP types where faithful, else text read like -p
        pmap = {p.name: p for p in pipeline.parameters}
        params, text_params = [], set()
        for p in pipeline.parameters:
            if p.secret:
                notes.append(
                    f"secret parameter {p.name!r} is read from the environment variable "
                    f"{p.env or p.name} in each component (kfp-kubernetes use_secret_as_env)"
                )
                continue
            native = _NATIVE.get(p.type) if not p.optional else None
            if native is not None and p.default is not None:
                params.append({"name": p.name, "annotation": native, "default": p.default})
            else:
                text_params.add(p.name)
                params.append(
                    {"name": p.name, "annotation": "str", "default": render.yaml_value(p.default)}
                )
        public = [p["name"] for p in params]

        steps = topological(pipeline.steps)
        local = {f"step_{s.name}" for s in steps} | {f"t_{s.name}" for s in steps}
        clash = sorted(set(public) & local)
        if clash:
            raise ExportError(
                f"parameter {clash[0]!r} clashes with a name of the exported pipeline function"
            )
        kinds = {s.name: artifact_kinds(ctx, s) for s in steps}
        components, body, kfp_imports = [], [], {"Output"}
        for s in steps:
            reads = [p for p in s.params if p in pmap and p in public]
            if any(p in pipeline.derived for p in s.params):
                reads = list(public)  # derived values are computed from every parameter
            args, call_args = [], []
            for var, producer in s.inputs.items():
                kind = kinds[producer][var]
                kfp_imports.update({"Input", kind})
                args.append(f"in_{var}: Input[{kind}]")
                call_args.append(f'in_{var}=t_{producer}.outputs["out_{var}"]')
            for name in reads:
                annotation = next(p["annotation"] for p in params if p["name"] == name)
                args.append(f"p_{name}: {annotation}")
                call_args.append(f"p_{name}={name}")
            for var in s.outputs:
                kind = kinds[s.name][var]
                kfp_imports.add(kind)
                args.append(f"out_{var}: Output[{kind}]")
            if s.metrics:
                kfp_imports.add("Metrics")
                args.append("metrics: Output[Metrics]")
            calls, step_image, tag_notes = kale_resources(tuple(s.tags))
            notes += [f"step {s.name!r}: {n}" for n in tag_notes]
            if s.files:
                notes.append(
                    f"step {s.name!r} reads {', '.join(s.files)} relative to the notebook's "
                    "folder, which a component does not have: put them in the image or read "
                    "them from a URL"
                )
            components.append(
                {
                    "name": s.name,
                    "function": f"step_{s.name}",
                    "image_expr": repr(step_image) if step_image else "BASE_IMAGE",
                    "args": args,
                    "doc": inert(s.doc or f"Step {s.name} of the notebook."),
                    "params": [(n, f"p_{n}") for n in reads if n not in text_params],
                    "param_text": [(n, f"p_{n}") for n in reads if n in text_params],
                    "inputs": [(v, f"in_{v}") for v in s.inputs],
                    "outputs": [(v, f"out_{v}") for v in s.outputs],
                    "metrics": bool(s.metrics),
                    "timeout": None if timeout is None else float(timeout),
                }
            )
            body.append(f"t_{s.name} = step_{s.name}({', '.join(call_args)})")
            body.append(f"t_{s.name}.set_display_name({s.name!r})")
            data_up = set(s.inputs.values())
            for up in s.upstream:
                if up not in data_up:
                    body.append(f"t_{s.name}.after(t_{up})")
            for call in calls:
                body.append(f"t_{s.name}.{call}")
            if retries and s.kind != "gate":
                body.append(f"t_{s.name}.set_retry(num_retries={retries!r})")
        blob = base64.b64encode(bundle(ctx, embed)).decode("ascii")
        chunks = [blob[i : i + 88] for i in range(0, len(blob), 88)]
        size = len(blob) * len(components)
        if size > 1_000_000:
            notes.append(
                f"each component embeds {len(blob) // 1024} KiB, {size // 1024} KiB in all: "
                "for a smaller YAML install nb2pipe instead (--nb2pipe-requirement SPEC) "
                "or use an image that has it (--nb2pipe-requirement none --image IMAGE)"
            )
        yaml_path = output.with_suffix(".yaml")
        text = render_template(
            "exporters/kfp_pipeline.py.j2",
            source=shown(ctx.package_dir),
            pipeline_name=pipeline.name,
            output_name=output.name,
            yaml_name=yaml_path.name,
            embed_runtime=embed,
            base_image=image,
            packages=packages,
            bundle_chunks=chunks,
            components=components,
            package=ctx.package,
            kfp_name=pipeline.name.replace("_", "-").lower(),
            description=inert(
                (pipeline.notebook and f"nb2pipe pipeline from {Path(pipeline.notebook).name}")
                or f"nb2pipe pipeline {pipeline.name}"
            ),
            params=params,
            body=body,
            kfp_imports=sorted(kfp_imports),
        )
        check_python(text, output.name)
        text = ruff_format(text, output.name)
        check_python(text, output.name)
        return ExportResult({output: text}, notes)

    def finish(
        self, ctx: ExportContext, output: Path, options: Mapping[str, Any], result: ExportResult
    ) -> list[str]:
        python = options["kfp_python"]
        wanted = options["compile"]
        if wanted is False:
            return [f"compile it with `python {shown(output)}` where kfp is installed"]
        if python is None:
            if kfp_available():
                python = sys.executable
            elif wanted:
                raise ExportError(
                    "--compile needs kfp: pip install kfp, or --set kfp_python=PATH "
                    "(an interpreter that has it)"
                )
            else:
                return [
                    "kfp is not installed here: compile with "
                    f"`python {shown(output)}` where it is (writes {output.with_suffix('.yaml').name})"
                ]
        yaml_path = output.with_suffix(".yaml")
        proc = subprocess.run(
            [str(python), str(output), str(yaml_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])[:400]
            raise ExportError(f"compiling {shown(output)} with {python} failed: {tail}")
        return [f"wrote {shown(yaml_path)} (upload it to Kubeflow Pipelines)"]


def kfp_available() -> bool:
    return importlib.util.find_spec("kfp") is not None


def artifact_kinds(ctx: ExportContext, step: Any) -> dict[str, str]:
    """KFP artifact type of each output: Model for the models (``model:`` tags, or a name
    the step fits), Artifact for metric values, Dataset for the rest."""
    try:
        source = (ctx.package_dir / "steps" / f"{step.name}.py").read_text(encoding="utf-8")
    except OSError:
        source = ""
    models = model_names(step) | fitted_names(source)
    return {
        var: "Model" if var in models else ("Artifact" if var in step.metrics else "Dataset")
        for var in step.outputs
    }
