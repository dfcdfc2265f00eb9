"""IPython extension: ``%load_ext nb2pipe``, then ``%nb2pipe inspect`` and ``%nb2pipe graph``.

Both read **the notebook file being edited, as last saved**, not the kernel's history: ``In``
holds only the cells that were executed, in the order they were run, without markdown
headings or cell tags, so it cannot show the steps ``nb2pipe convert`` would cut. The output
names the file and when it was saved (save first to see the latest edits).

The notebook is, in this order: the path given (``%nb2pipe graph analysis.ipynb``);
``__session__`` in the user namespace (ipykernel >= 6.10 sets it from ``JPY_SESSION_NAME``,
which Jupyter Server 2 sets to the notebook's path when it starts the kernel); the
``JPY_SESSION_NAME`` environment variable; VS Code's ``__vsc_ipynb_file__``. A relative
session path is tried against the kernel's working directory (the notebook's folder), then
as a file name in it. Nothing found: an error asking for the path.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

USAGE = (
    "%nb2pipe inspect [NOTEBOOK] [--split-on h1|h2|h3]\n"
    "%nb2pipe graph [NOTEBOOK] [--split-on h1|h2|h3] [--run RUN] [--runs-dir DIR] [--mermaid]"
)


class MagicUsage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never SystemExit inside a kernel
        raise MagicUsage(f"{message}\nusage:\n{USAGE}")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%nb2pipe", add_help=False)
    p.add_argument("command", choices=["inspect", "graph"])
    p.add_argument("notebook", nargs="?")
    p.add_argument("--split-on", choices=["h1", "h2", "h3"])
    p.add_argument("--run")
    p.add_argument("--runs-dir")
    p.add_argument("--mermaid", action="store_true")
    return p


def candidates(user_ns: dict[str, Any], environ: dict[str, str]) -> list[str]:
    found = [user_ns.get("__session__"), environ.get("JPY_SESSION_NAME")]
    found.append(user_ns.get("__vsc_ipynb_file__"))
    return [c for c in found if isinstance(c, str) and c.strip()]


def find_notebook(given: str | None, user_ns: dict[str, Any], environ: dict[str, str]) -> Path:
    if given:
        return Path(given).expanduser()
    for cand in candidates(user_ns, environ):
        path = Path(cand).expanduser()
        for p in (path, Path.cwd() / path.name):
            if p.suffix in (".ipynb", ".py") and p.is_file():
                return p
    raise MagicUsage(
        "cannot tell which notebook this kernel belongs to (no __session__, JPY_SESSION_NAME "
        "or __vsc_ipynb_file__): give its path, e.g. %nb2pipe inspect analysis.ipynb"
    )


def _saved(path: Path) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    return f"{path} (saved {stamp})"


def plain_steps(data: dict[str, Any]) -> str:
    lines = [f"{data['name']}: {len(data['steps'])} steps (split by {data['split']})"]
    for s in data["steps"]:
        ins = ", ".join(f"{v} <- {src}" for v, src in s["inputs"].items())
        kind = " (gate)" if s["kind"] == "gate" else ""
        cells = ", ".join(map(str, s["cells"]))
        outs, params = ", ".join(s["outputs"]) or "-", ", ".join(s["params"]) or "-"
        lines.append(
            f"  {s['name']}{kind}: cells {cells}; in: {ins or '-'}; out: {outs}; params: {params}"
        )
    lines += [f"  {d['severity']}: {d['message']}" for d in data["diagnostics"]]
    return "\n".join(lines)


def render(line: str, user_ns: dict[str, Any], environ: dict[str, str]) -> dict[str, str]:
    """The display bundle (text/html and text/plain) of one ``%nb2pipe`` line."""
    from nb2pipe import api
    from nb2pipe.compiler.summary import inspect_data
    from nb2pipe.viz import graph, pages, textfmt

    args = parser().parse_args(shlex.split(line))
    path = find_notebook(args.notebook, user_ns, environ)
    pipe = api.load(path, split_on=args.split_on)
    dag = graph.from_pipeline(pipe, _saved(path))
    if args.command == "inspect":
        data = inspect_data(pipe)
        return {"text/html": pages.dag_fragment(dag, data), "text/plain": plain_steps(data)}
    warnings: list[str] = []
    if args.run:
        from nb2pipe.mlops.runs import resolve_run

        _, record = resolve_run(args.run, args.runs_dir)
        dag, warnings = graph.with_run(dag, dict(record))
    mermaid = textfmt.mermaid(dag)
    html = pages.dag_fragment(dag)
    if args.mermaid:
        html += "<pre>" + pages.escape(mermaid) + "</pre>"
    for w in warnings:
        print(f"nb2pipe: warning: {w}", file=sys.stderr)
    return {"text/html": html, "text/plain": mermaid}


@magics_class
class Nb2pipeMagics(Magics):
    @line_magic
    def nb2pipe(self, line: str) -> None:
        """Show the steps (inspect) or the DAG (graph) of this notebook; see nb2pipe.frontends.ipython."""
        from IPython.display import display

        from nb2pipe.errors import Nb2pipeError

        try:
            bundle = render(line, self.shell.user_ns, dict(os.environ))
        except (MagicUsage, Nb2pipeError) as exc:
            print(f"nb2pipe: {exc}", file=sys.stderr)
            return
        display(bundle, raw=True)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(Nb2pipeMagics)
