"""`nb2pipe run DIR` starts without typer or the compiler (issue 12: fixed cost), with the
same messages and exit codes as the typer command."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from runtime_helpers import REPO, S

PROBE = """
import json, sys
sys.argv = ["nb2pipe", "run", *sys.argv[1:]]
from nb2pipe.frontends.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
loaded = [m for m in ("typer", "nbformat", "jinja2", "nb2pipe.compiler", "nb2pipe.api")
          if m in sys.modules]
print(json.dumps({"code": code, "loaded": loaded}))
"""


def probe(cwd: Any, *args: str) -> tuple[dict[str, Any], str]:
    """The exit code and modules loaded (JSON on stdout's last line), stdout before it
    (``out["stdout"]``), and stderr."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    *shown, last = done.stdout.strip().splitlines()
    return {**json.loads(last), "stdout": "\n".join(shown)}, done.stderr


def test_run_imports_neither_typer_nor_the_compiler(make_pkg: Any) -> None:
    pkg = make_pkg([S("a", "x = 1", outputs=("x",))])
    out, err = probe(pkg.root, pkg.name, "--runs-dir", "runs", "-q")
    assert (out["code"], out["loaded"]) == (0, []), err
    assert list((pkg.root / "runs").glob("*/run.json"))


def test_run_messages_and_exit_codes(tmp_path: Any) -> None:
    out, err = probe(tmp_path, "nowhere")
    assert out["code"] == 2 and err.startswith("error: nowhere: not a generated pipeline")
    out, err = probe(tmp_path)
    assert out["code"] == 2 and "usage: nb2pipe run DIR" in out["stdout"]
    out, _ = probe(tmp_path, "--help")
    assert out["code"] == 0 and "--allow-mutation" in out["stdout"]
