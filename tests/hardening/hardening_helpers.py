"""Shared helpers of the hardening tests: a grammar of notebooks for hypothesis, writing
notebooks to disk, checking a generated package (compiles, ruff, tokens) and running it.

(Not conftest.py: other test folders have a conftest module of their own.)
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from nb2pipe.codegen.package import ruff_bin

PYTHON = {"name": "python3", "language": "python", "display_name": "Python 3"}
CellSpec = tuple[Any, str]  # (tags: "md" | space-separated string | list, source)


# --- notebooks on disk --------------------------------------------------------------------


def notebook_json(cells: list[CellSpec], metadata: dict[str, Any] | None = None) -> str:
    out = []
    for n, (tags, source) in enumerate(cells):
        cid = f"cell-{n}"
        if tags == "md":
            out.append({"cell_type": "markdown", "id": cid, "metadata": {}, "source": source})
            continue
        words = tags.split() if isinstance(tags, str) else list(tags)
        out.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": cid,
                "metadata": {"tags": words} if words else {},
                "outputs": [],
                "source": source,
            }
        )
    meta = metadata if metadata is not None else {"kernelspec": dict(PYTHON)}
    nb = {"cells": out, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_notebook(path: Path, cells: list[CellSpec], **kw: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_json(cells, **kw), encoding="utf-8")
    return path


# --- checking a generated package ---------------------------------------------------------


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ruff_bin(), *args], capture_output=True, text=True, check=False)


def check_package(pkg: Path) -> dict[str, str]:
    """Every .py compiles; `ruff check` and `ruff format --check` pass with the package's
    own ruff.toml. Returns {relative path: text} of every file."""
    files = {
        p.relative_to(pkg).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(pkg.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    for rel, text in files.items():
        if rel.endswith(".py"):
            compile(ast.parse(text, rel), rel, "exec", dont_inherit=True)
    config = str(pkg / "ruff.toml")
    lint = ruff("check", "--no-cache", "--config", config, str(pkg))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = ruff("format", "--check", "--no-cache", "--config", config, str(pkg))
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    return files


def tokens_holding(text: str, needle: str) -> list[tokenize.TokenInfo]:
    """The tokens of a Python source in which `needle` occurs."""
    return [
        tok for tok in tokenize.generate_tokens(io.StringIO(text).readline) if needle in tok.string
    ]


CODE_TOKENS = {tokenize.NAME, tokenize.OP, tokenize.NUMBER}


def only_in_literals_or_comments(text: str, needle: str) -> bool:
    """Does `needle` occur in the source only inside string literals and comments? (Its
    tokens: STRING, COMMENT, or the parts of an f-string.)"""
    allowed = {tokenize.STRING, tokenize.COMMENT}
    allowed |= {getattr(tokenize, n) for n in ("FSTRING_MIDDLE",) if hasattr(tokenize, n)}
    hits = tokens_holding(text, needle)
    return all(tok.type in allowed for tok in hits)


def run_package(
    pkg: Path, *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m <pkg> --runs-dir <pkg parent>/runs ARGS` in a subprocess."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    env["PYTHONPATH"] = str(pkg.parent)
    return subprocess.run(
        [sys.executable, "-m", pkg.name, "--runs-dir", str(pkg.parent / "runs"), *args],
        cwd=cwd or pkg.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- a grammar of notebooks ---------------------------------------------------------------

VARS = ("a", "b", "c", "data", "model", "total")
PARAMS = ("n", "rate", "label", "flags", "opts", "seed")
STEPS = ("load", "clean", "train", "evaluate", "report")
MODULES = ("math", "json", "collections", "itertools", "statistics", "string", "operator", "re")
LITERALS = (
    "0",
    "1",
    "42",
    "-3",
    "2.5",
    "'x'",
    "'a b'",
    "[]",
    "[1, 2]",
    "[1, [2, 3]]",
    "{}",
    "{'k': 1}",
    "(1, 2)",
    "None",
    "True",
)
HOSTILE_TEXT = (
    '"""',
    "'''",
    "\\",
    "{{ 7*7 }}",
    "{% if 1 %}",
    "\r",
    "\u2028",
    "\x00",
    "#",
    "-->",
    "|",
    "`",
    "\N{SNOWMAN}",
)

names = st.sampled_from(VARS)
literal = st.sampled_from(LITERALS)


@st.composite
def expr(draw: st.DrawFn) -> str:
    v = draw(names)
    return draw(
        st.sampled_from(
            [
                draw(literal),
                v,
                f"{v} + 1",
                f"len({v})",
                f"[{v}, {draw(literal)}]",
                f"f'{{{v}}}'",
                f"str({v})",
                f"sorted({v})",
                f"{v}.copy()",
                f"[i * 2 for i in range({draw(st.integers(0, 3))})]",
                f"{{'k': {v}}}",
                f"{v}[0]",
                f"max({v}, default=0)",
            ]
        )
    )


#: statements the runnable grammar leaves out: shell and display magics (the notebook
#: is executed as plain Python; an open bug's pattern may be added here until it is fixed)
RUNNABLE_EXCLUDED = ("!", "%matplotlib")
GARBAGE = (
    "x = = 1",
    "%weird_magic x",
    "!echo {a}",
    ")(",
    "def",
    "break",
    "nonlocal a",
    "return 1",
    "await a",
    "a = 1\n  b = 2",
)


@st.composite
def statement(draw: st.DrawFn, garbage: bool = False, runnable: bool = False) -> str:
    """A statement over VARS; `garbage`: one that must be refused; `runnable`: none that
    reaches outside the process (shell, pip), so the notebook can be executed as is."""
    if garbage:
        return draw(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=12)))
    if runnable:
        return draw(statement().filter(lambda s: not s.startswith(RUNNABLE_EXCLUDED)))
    v, w = draw(names), draw(names)
    e = draw(expr())
    k = draw(st.integers(0, 3))
    return draw(
        st.sampled_from(
            [
                f"{v} = {e}",
                f"{v} = {e}",
                f"{v} = {e}",
                f"{v} += {e}",
                f"{v}.append({e})",
                f"{v}[0] = {e}",
                f"{v}.update({{'k': {e}}})",
                f"{v}.sort()",
                f"del {v}[0]",
                f"for i in range({k}):\n    {v} = {e}",
                f"if {v}:\n    {w} = {e}\nelse:\n    {w} = {draw(literal)}",
                f"def f{k}(x):\n    return x",
                f"def g{k}(x):\n    x.append({k})\n    return x",
                f"def f{k}(x):\n    return x\n{w} = f{k}({v})",
                f"def g{k}(x):\n    x.append({k})\n    return x\n{w} = g{k}({v})",
                f"class K{k}:\n    size = {draw(literal)}",
                f"class K{k}:\n    size = {k}\n{w} = K{k}()",
                f"import {draw(st.sampled_from(MODULES))}",
                f"import math\n{v} = math.sqrt({k})",
                f"print({v})",
                v,
                f"{v}, {w}",
                f"{v} = lambda y: y",
                f"try:\n    {v} = int('x')\nexcept ValueError:\n    {v} = {k}",
                f"while {v}:\n    break",
                f"assert {v} is not None",
                f"if __name__ == '__main__':\n    {v} = {e}",
                f"%time {v} = {e}",
                "%matplotlib inline",
                "!echo hello",
                "!pip install requests",
                f"{v} = {draw(st.sampled_from(PARAMS))}",
                f"{draw(st.sampled_from(PARAMS))} = {e}",
                f"flags.append({e})",  # a step that changes a parameter in place
                f"opts['k'] = {e}",
                # the notebook's own style, which the generated ruff.toml must accept
                f"if not {v} in [{w}]:\n    {w} = {e}",
                f"if not {v} is None: print({v});",
                f"{v} = {e}; {w} = {draw(literal)}",
                f"def l{k}(): return {k}\n{w} = l{k}()",
                f"class I{k}: pass\n{w} = I{k}()",
                f"def h{k}():\n    import os, sys\n    return os.sep\n{w} = h{k}()",
            ]
        )
    )


@st.composite
def code(draw: st.DrawFn, max_size: int = 4, runnable: bool = False) -> str:
    lines = st.lists(statement(runnable=runnable), min_size=1, max_size=max_size)
    return "\n".join(draw(lines))


#: a parameters cell that defines every name of PARAMS, consistently typed
FULL_PARAMETERS = (
    "n = 3  # how many\n"
    "rate: float = 0.5\n"
    "label = 'x'  # a label\n"
    "flags = [1, 2]\n"
    "opts = {'k': 1}\n"
    "seed: int | None = None\n"
    "api_token = 'abc'  # secret"
)
#: the first step: every name of VARS bound
SEED_STEP = "a = [1, 2]\nb = [3]\nc = 'x'\ndata = {'k': 1}\nmodel = [0]\ntotal = 0"


@st.composite
def parameters_source(draw: st.DrawFn) -> str:
    lines = []
    for name in draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=4)):
        value = draw(literal)
        annotation = draw(st.sampled_from(["", ": int", ": float | None", ": str", ": list"]))
        help_text = draw(st.sampled_from(["", "  # how many", "  # secret", "  # type: int"]))
        lines.append(f"{name}{annotation} = {value}{help_text}")
    if draw(st.booleans()):
        lines.append(f"derived_{draw(st.integers(0, 2))} = str({draw(st.sampled_from(PARAMS))})")
    return "\n".join(lines)


@st.composite
def markdown(draw: st.DrawFn) -> str:
    heading = draw(st.sampled_from(["", "# ", "## ", "### "]))
    words = draw(
        st.lists(
            st.one_of(st.sampled_from(HOSTILE_TEXT), st.sampled_from(["Load", "the", "data"])),
            max_size=6,
        )
    )
    return heading + " ".join(words)


KINDS = (
    "step",
    "step",
    "step",
    "after",
    "untagged",
    "untagged",
    "untagged",
    "parameters",
    "imports",
    "functions",
    "skip",
    "metrics",
    "validate",
    "md",
    "md",
    "foreign",
    "directive",
)


@st.composite
def notebooks(
    draw: st.DrawFn, garbage: bool = True, max_cells: int = 8, runnable: bool = False
) -> list[CellSpec]:
    """A notebook: usually a full parameters cell and a first step that binds every
    variable, then random cells. Step names are mostly fresh; `after:` mostly names an
    earlier step; repeated names, unknown targets and garbage happen now and then."""
    cells: list[CellSpec] = []
    steps: list[str] = []

    def fresh() -> str:
        base = draw(st.sampled_from(STEPS))
        if draw(st.integers(0, 29)) == 0:
            base = base.title()  # a name that differs from another only in case
        if base in steps and draw(st.integers(0, 9)) > 0:
            base = f"{base}_{len(steps)}"
        steps.append(base)
        return base

    if draw(st.integers(0, 9)) > 1:
        cells.append(("parameters", FULL_PARAMETERS))
    if draw(st.booleans()):
        cells.append(("imports", "import math\nimport json"))
    if draw(st.integers(0, 9)) > 1:
        cells.append((f"step:{fresh()}", SEED_STEP))
    for _ in range(draw(st.integers(1, max_cells))):
        kind = draw(st.sampled_from(KINDS))
        body = draw(code(runnable=runnable))
        if kind == "step":
            cells.append((f"step:{fresh()}", body))
        elif kind == "after":
            earlier = draw(st.sampled_from(steps)) if steps else "nowhere"
            cells.append((f"step:{fresh()} after:{earlier}", body))
        elif kind == "untagged":
            cells.append(("", body))
        elif kind == "parameters":
            cells.append(("parameters", draw(parameters_source())))
        elif kind == "imports":
            mods = draw(st.lists(st.sampled_from(MODULES), min_size=1, max_size=3))
            cells.append(("imports", "\n".join(f"import {m}" for m in mods)))
        elif kind == "functions":
            cells.append(("functions", draw(st.sampled_from(FUNCTIONS))))
        elif kind == "skip":
            cells.append(("skip", body))
        elif kind == "metrics":
            v = draw(names)
            cells.append(("metrics", draw(st.sampled_from([v, f"print({v})", "a, b"]))))
        elif kind == "validate":
            cells.append(("validate", f"assert {draw(names)} is not None"))
        elif kind == "md":
            cells.append(("md", draw(markdown())))
        elif kind == "foreign":
            cells.append(([f"step:{fresh()}", draw(st.sampled_from(FOREIGN_TAGS))], body))
        else:
            cells.append(("", f"#| nb2pipe: step:{fresh()}\n{body}"))
    if garbage and draw(st.integers(0, 4)) == 0:  # now and then, one damaged cell
        at = draw(st.integers(0, len(cells) - 1))
        tags, source = cells[at]
        bad = draw(statement(garbage=True))
        cells[at] = (tags, draw(st.sampled_from([f"{source}\n{bad}", f"{bad}\n{source}", bad])))
    return cells


FUNCTIONS = (
    "def f0(x):\n    return x",
    "def g0(x):\n    x.append(0)\n    return x",
    "CONST = 3",
    "class K0:\n    size = 1",
    "def h0(x, *args, **kw):\n    return [x, *args]",
)
FOREIGN_TAGS = ("hide-input", "stpe:x", "paramters", 'x"y', "a\nb", "{{ t }}", "remove-cell")
