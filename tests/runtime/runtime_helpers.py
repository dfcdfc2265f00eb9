"""Fixture pipeline packages written by hand (the code generator is a separate issue):
the layout of SPEC section 3, with ``# cell N`` markers in the step bodies.

(Not in conftest.py: other test folders have a conftest module of their own.)"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.runtime import Pipeline, RunResult, run
from nb2pipe.runtime.records import parse_iso

REPO = Path(__file__).resolve().parents[2]


@dataclass
class S:
    """A step of a fixture package: ``body`` is the code of its cells."""

    name: str
    body: str
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    imports: str = ""
    cell: int = 1
    kind: str = "step"
    after: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    distributions: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    common: tuple[str, ...] = ()
    random: tuple[str, ...] = ()  # streams of the chain; `__random_state__` stays hidden
    random_guard: tuple[str, ...] = ()


def step_source(s: S) -> str:
    body = textwrap.dedent(s.body).strip("\n")
    if "# cell " not in body:
        body = f"# cell {s.cell}\n{body}"
    args = [v for v in s.inputs if v != "__random_state__"]
    kw = [f"{p}: Any = None" for p in s.params]
    sig = ", ".join(args + (["*", *kw] if kw else []))
    ret = "{" + ", ".join(f"{o!r}: {o}" for o in s.outputs if o != "__random_state__") + "}"
    imports = textwrap.dedent(s.imports).strip()
    common = f"from ..common import {', '.join(s.common)}\n" if s.common else ""
    return (
        f"# Generated for a test.\n{imports}\nfrom typing import Any\n{common}\n\n"
        f"def {s.name}({sig}) -> dict[str, Any]:\n"
        f'    """Step {s.name}."""\n'
        f"{textwrap.indent(body, '    ')}\n"
        f"    return {ret}\n"
    )


def _type_name(t: Any) -> str:
    return "None" if t is None else t.__name__


@dataclass
class Pkg:
    root: Path
    name: str
    steps: list[S]
    params: list[tuple[Any, ...]]  # (name, type, default[, kwargs])
    derive: str | None = None
    derived: tuple[str, ...] = ()
    common: str | None = None

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def write(self) -> Pkg:
        (self.dir / "steps").mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(exist_ok=True)
        (self.dir / "__init__.py").write_text('"""Test pipeline."""\n')
        (self.dir / "steps" / "__init__.py").write_text("")
        (self.dir / "__main__.py").write_text(
            "from nb2pipe.runtime import main\n\nfrom .pipeline import PIPELINE\n\n"
            'if __name__ == "__main__":\n    raise SystemExit(main(PIPELINE))\n'
        )
        if self.common is not None:
            (self.dir / "common.py").write_text(textwrap.dedent(self.common))
        for s in self.steps:
            self.write_step(s)
        self.write_pipeline()
        return self

    def write_step(self, s: S) -> None:
        path = self.dir / "steps" / f"{s.name}.py"
        path.write_text(step_source(s))
        for i, old in enumerate(self.steps):
            if old.name == s.name:
                self.steps[i] = s

    def write_pipeline(self) -> None:
        steps = []
        for s in self.steps:
            steps.append(
                f"Step(name={s.name!r}, inputs={s.inputs!r}, outputs={s.outputs!r}, "
                f"params={s.params!r}, after={s.after!r}, cells=({s.cell},), kind={s.kind!r}, "
                f"metrics={s.metrics!r}, distributions={s.distributions!r}, files={s.files!r}, "
                f"common={s.common!r}, random={s.random!r}, random_guard={s.random_guard!r})"
            )
        params = []
        for p in self.params:
            extra = p[3] if len(p) > 3 else {}
            kw = "".join(f", {k}={v!r}" for k, v in extra.items())
            params.append(f"Param({p[0]!r}, {_type_name(p[1])}, {p[2]!r}{kw})")
        derive = textwrap.dedent(self.derive) if self.derive else ""
        (self.dir / "pipeline.py").write_text(
            "from nb2pipe.runtime import Param, Pipeline, Step\n\n"
            f"{derive}\n"
            "PIPELINE = Pipeline(\n"
            f"    name={self.name!r}, package=__package__,\n"
            f"    steps=({''.join(s + ', ' for s in steps)}),\n"
            f"    parameters=({''.join(p + ', ' for p in params)}),\n"
            f"    derived={self.derived!r},\n"
            f"    derive={'derive' if self.derive else 'None'},\n"
            "    notebook='../work/nb.ipynb', notebook_sha256='0' * 64,\n"
            "    workdir='../work', generated_by='0.1.0',\n"
            ")\n"
        )

    def pipeline(self) -> Pipeline:
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        importlib.invalidate_caches()
        name = f"{self.name}.pipeline"
        module = (
            importlib.reload(sys.modules[name])
            if name in sys.modules
            else importlib.import_module(name)
        )
        return module.PIPELINE

    def run(self, **kw: Any) -> RunResult:
        kw.setdefault("runs_dir", self.runs)
        kw.setdefault("progress", "none")
        return run(self.pipeline(), **kw)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.root), str(REPO)])
        env.pop("MPLBACKEND", None)
        return env

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", self.name, "--runs-dir", str(self.runs), *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", self.name, "--runs-dir", str(self.runs), *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


# --- a small pipeline used by many tests ------------------------------------------------


def diamond_steps(sleep: float = 0.0) -> list[S]:
    """load -> (left, right) -> join; load reads data.csv; left reads parameter `k`."""
    pause = f"time.sleep({sleep})\n" if sleep else ""
    return [
        S(
            "load",
            "rows = open('data.csv').read().split()\nn = len(rows)",
            outputs=("rows", "n"),
            files=("data.csv",),
            cell=2,
        ),
        S(
            "left",
            f"{pause}left_out = [r * k for r in rows]",
            inputs={"rows": "load"},
            outputs=("left_out",),
            params=("k",),
            imports="import time",
            cell=4,
        ),
        S(
            "right",
            f"{pause}right_out = n + 1",
            inputs={"n": "load"},
            outputs=("right_out",),
            imports="import time",
            cell=6,
        ),
        S(
            "join",
            "total = len(left_out) + right_out\nprint('total', total)",
            inputs={"left_out": "left", "right_out": "right"},
            outputs=("total",),
            metrics=("total",),
            cell=8,
        ),
    ]


def statuses(result: RunResult) -> dict[str, str]:
    return {name: rec["status"] for name, rec in result.steps.items()}


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Did two step records of run.json run at the same time?"""
    return parse_iso(a["start"]) < parse_iso(b["end"]) and parse_iso(b["start"]) < parse_iso(
        a["end"]
    )
