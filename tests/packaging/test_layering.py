"""The import layering of nb2pipe, checked over the real import graph.

Every module under nb2pipe/ is parsed (ast: module-level, function-level and TYPE_CHECKING
imports alike) and mapped to a layer by its package prefix; a module may import its own
layer and the layers below it, never one above:

    runtime  <-  compiler, codegen  <-  mlops  <-  exporters, verify, viz  <-  frontends

The map names packages (nb2pipe.compiler, nb2pipe.codegen, nb2pipe.frontends) and the
modules that still sit flat in nb2pipe/, so it holds for both layouts. A module that no
entry maps fails the test too: a new module gets a layer when it is added.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import nb2pipe

ROOT = Path(nb2pipe.__file__).parent
LAYER_NAMES = ("runtime", "compiler/codegen", "mlops", "exporters/verify/viz", "frontends")
# Package (or module) prefix -> layer; the longest matching prefix wins.
LAYERS: dict[str, int] = {
    "nb2pipe.runtime": 0,
    **dict.fromkeys(
        (
            "nb2pipe.compiler",
            "nb2pipe.codegen",
            "nb2pipe.api",  # the compiler's entry points: load, convert, load_package
            "nb2pipe.errors",  # the compiler's errors
            "nb2pipe.packages",  # converted packages: where they live, how they are imported
            # the flat layout (before nb2pipe/compiler/ and nb2pipe/codegen/):
            *(
                f"nb2pipe.{m}"
                for m in (
                    "analysis assemble hazards lowering magics mlops_tags model notebook params "
                    "randomness rules scopes source tags tagcheck codegen render templating writeplan"
                ).split()
            ),
        ),
        1,
    ),
    "nb2pipe.mlops": 2,
    **dict.fromkeys(("nb2pipe.exporters", "nb2pipe.verify", "nb2pipe.viz"), 3),
    **dict.fromkeys(
        (
            "nb2pipe",  # the package's front: load_ipython_extension, load_model
            "nb2pipe.frontends",
            # the flat layout (before nb2pipe/frontends/):
            "nb2pipe.cli",
            "nb2pipe.magic",
            "nb2pipe.report",
        ),
        4,
    ),
}


def layer_of(module: str, layers: dict[str, int] = LAYERS) -> int | None:
    parts = module.split(".")
    # the package's own __init__ ("nb2pipe") is no prefix: only itself is the front
    for n in range(len(parts), 0 if len(parts) == 1 else 1, -1):
        layer = layers.get(".".join(parts[:n]))
        if layer is not None:
            return layer
    return None


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package at ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


# Names the package's front re-exports from a lower layer: importing them imports that layer.
REEXPORTS = {"nb2pipe.__version__": "nb2pipe.runtime"}  # see test_the_version_is_the_runtimes


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import of nb2pipe in one module: ``from a import b``
    is an import of ``a.b`` when that is a module, else of ``a``."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            targets = [
                REEXPORTS.get(f"{base}.{a.name}")
                or (f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "nb2pipe":
                yield target, node.lineno


def violations(root: Path, layers: dict[str, int] = LAYERS) -> tuple[list[str], list[str]]:
    """(unmapped modules, upward imports as 'file:line: a (layer) imports b (layer)')."""
    known = modules(root)
    unmapped = [m for m in known if layer_of(m, layers) is None]
    upward = []
    for name, path in known.items():
        mine = layer_of(name, layers)
        for target, line in imports(name, path, known):
            theirs = layer_of(target, layers)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(
                    f"{path.relative_to(root.parent)}:{line}: {name} ({LAYER_NAMES[mine]}) "
                    f"imports {target} ({LAYER_NAMES[theirs]})"
                )
    return unmapped, upward


def test_no_layer_imports_a_higher_one() -> None:
    unmapped, upward = violations(ROOT)
    assert not unmapped, f"modules with no layer (add them to LAYERS): {unmapped}"
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_the_version_is_the_runtimes() -> None:
    import nb2pipe.runtime

    assert nb2pipe.__version__ is nb2pipe.runtime.__version__


def test_runtime_imports_nothing_outside_itself() -> None:
    """The runtime ships alone (nb2pipe-runtime; the KFP bundle holds only runtime/)."""
    known = modules(ROOT)
    outside = [
        f"{path.relative_to(ROOT.parent)}:{line}: {target}"
        for name, path in known.items()
        if name.startswith("nb2pipe.runtime")
        for target, line in imports(name, path, known)
        if not (target + ".").startswith("nb2pipe.runtime.")
    ]
    assert not outside, outside


def test_mlops_prints_nothing() -> None:
    """The terminal is the CLI's: mlops returns facts, the CLI draws the rich tables."""
    drawn = []
    for path in sorted((ROOT / "mlops").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] in ("rich", "typer") for n in names):
                drawn.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert not drawn, f"rich/typer imported in mlops: {drawn}"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "nb2pipe"


@pytest.mark.parametrize("compiler", ["nb2pipe/compiler/analysis.py", "nb2pipe/analysis.py"])
def test_the_check_finds_upward_imports_in_either_layout(tmp_path: Path, compiler: str) -> None:
    """The checker itself, on a small tree: absolute, relative, from-package and
    function-level imports are all seen, named by file and line."""
    root = _write(
        tmp_path,
        {
            "nb2pipe/__init__.py": "",
            "nb2pipe/runtime/__init__.py": "",
            "nb2pipe/runtime/runner.py": "import os\n\ndef f():\n    from ..mlops import runs\n",
            "nb2pipe/runtime/ok.py": "from . import runner\nfrom nb2pipe.runtime import ok\n",
            "nb2pipe/mlops/__init__.py": "",
            "nb2pipe/mlops/runs.py": "from nb2pipe.runtime import runner\n"
            "from nb2pipe import __version__\n",
            "nb2pipe/mlops/models.py": "from nb2pipe import load_model\n",
            compiler: "from nb2pipe import viz\n",
            "nb2pipe/viz/__init__.py": "import nb2pipe.mlops.runs\n",
            "nb2pipe/extra.py": "",
        },
    )
    if compiler.count("/") == 2:
        (root / "compiler" / "__init__.py").write_text("")
    unmapped, upward = violations(root)
    assert unmapped == ["nb2pipe.extra"]
    name = compiler[:-3].replace("/", ".")
    assert sorted(upward) == sorted(
        [
            f"{compiler}:1: {name} (compiler/codegen) imports nb2pipe.viz (exporters/verify/viz)",
            "nb2pipe/runtime/runner.py:4: nb2pipe.runtime.runner (runtime) imports "
            "nb2pipe.mlops.runs (mlops)",
            "nb2pipe/mlops/models.py:1: nb2pipe.mlops.models (mlops) imports nb2pipe (frontends)",
        ]
    )
