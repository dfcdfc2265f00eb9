"""One error root (nb2pipe.runtime.errors.Nb2pipeError) and exit codes declared once."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import nb2pipe
from nb2pipe.runtime import errors

ROOT = Path(nb2pipe.__file__).parent
# Exceptions that never reach a user: control flow inside one module, or a user's own
# assertion (a gate's check), which fails the step like any assertion.
NOT_REPORTED = {
    "nb2pipe.runtime.errors.GateFailed",
    "nb2pipe.runtime.execute._Failed",
    "nb2pipe.runtime.fingerprint.Unhashable",
    "nb2pipe.runtime.store.ValueChanged",
    "nb2pipe.runtime.limits.StepTimeout",  # control flow, like KeyboardInterrupt
    "nb2pipe.runtime.signals.Interrupted",  # a KeyboardInterrupt
    "nb2pipe.mlops.serve.Refused",
    "nb2pipe.verify.compare.Skip",
    "nb2pipe.verify.compare.Mismatch",
    "nb2pipe.frontends.ipython.MagicUsage",
}


#: extras a module may import at its top (none does today; this names them if one does)
OPTIONAL = {"mlflow", "ray", "dask", "distributed", "fastapi", "uvicorn", "psycopg"}


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(ROOT)], prefix="nb2pipe."):
        if ".templates" in info.name or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_every_reported_error_has_the_one_root() -> None:
    loose = []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            if (exc.name or "").split(".")[0] in OPTIONAL:
                continue  # an optional extra this install lacks
            raise
        for attr, value in vars(module).items():
            if not (isinstance(value, type) and issubclass(value, BaseException)):
                continue
            if value.__module__ != name or f"{name}.{attr}" in NOT_REPORTED:
                continue
            if not issubclass(value, errors.Nb2pipeError):
                loose.append(f"{name}.{attr}")
    assert not loose, f"errors outside the family (subclass Nb2pipeError): {loose}"


def test_compiler_errors_and_runtime_errors_share_the_root() -> None:
    from nb2pipe.errors import AnalysisError, StaleError
    from nb2pipe.mlops.registry import RegistryError

    for cls in (AnalysisError, StaleError, RegistryError, errors.UsageError, errors.StepFailed):
        assert issubclass(cls, errors.Nb2pipeError)
    assert (errors.UsageError("x").exit_code, StaleError("x").exit_code) == (2, 1)
    assert str(errors.UsageError("a\nb", file="nb.ipynb", cell=3, hint="fix")) == (
        "nb.ipynb, cell 3: a b (fix)"
    )


def test_exit_codes_are_declared_once() -> None:
    """Only nb2pipe/runtime/errors.py writes an exit code as a number; everything else
    names EXIT_OK, EXIT_FAILED, EXIT_USAGE or EXIT_INTERRUPTED."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "runtime" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "exit_code" for t in node.targets
            ):
                if isinstance(node.value, ast.Constant):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"exit codes declared as numbers outside runtime/errors.py: {found}"
