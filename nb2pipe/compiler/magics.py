"""IPython syntax in cells (SPEC section 2, "Magics and shell"), made plain Python.

Each magic or shell line is dropped, kept as its statement, moved to requirements, turned
into ``subprocess.run``, or refused with a hint to tag the cell ``skip``. Line numbers are
preserved: a removed line becomes an empty line (or ``pass`` inside a block).
"""

from __future__ import annotations

import ast
import io
import re
import shlex
import tokenize
from dataclasses import dataclass, field

from nb2pipe.errors import AnalysisError

DROP_LINE = {
    "matplotlib", "load_ext", "reload_ext", "unload_ext", "config", "autoreload", "aimport",
    "nb2pipe", "who", "whos", "who_ls", "lsmagic", "magic", "quickref", "history", "hist",
    "pinfo", "pinfo2", "pdoc", "pdef", "psource", "pfile", "precision", "pprint", "xmode",
    "colors", "page", "doctest_mode", "automagic", "autocall", "notebook", "qtconsole",
    "connect_info", "tb", "pdb", "debug",
}  # fmt: skip
KEEP_LINE = {"time", "timeit", "prun"}
DROP_CELL = {"html", "markdown", "latex", "javascript", "js", "svg", "md"}
KEEP_CELL = {"time", "timeit", "capture", "prun"}
PIP = {"pip", "conda", "mamba", "uv"}
MAGIC = re.compile(r"^(\s*)(%%?)([A-Za-z_][\w.]*)\s*(.*)$")
SHELL = re.compile(r"^(\s*)!(.*)$")
HELP = re.compile(r"^\s*\??[\w.]+\?{1,2}\s*$|^\s*\?{1,2}[\w.]+\s*$")


@dataclass
class Transformed:
    source: str
    notes: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    uses_subprocess: bool = False


def transform(source: str, *, file: str, cell: int) -> Transformed:
    """Return plain Python for a cell's source, or raise AnalysisError for what cannot be."""
    try:
        ast.parse(source)
        return Transformed(source)
    except SyntaxError:
        pass
    except (ValueError, RecursionError, MemoryError):
        return Transformed(source)  # reported by the parser later
    out = Transformed("")
    lines = source.split("\n")
    first = MAGIC.fullmatch(lines[0]) if lines else None
    if first and first.group(2) == "%%":
        name = first.group(3)
        if name in DROP_CELL:
            out.notes.append((1, f"%%{name} cell dropped (display only)"))
            out.source = "\n" * (len(lines) - 1)
            return out
        if name not in KEEP_CELL:
            raise AnalysisError(
                f"cell magic %%{name} cannot run in a pipeline",
                file=file,
                cell=cell,
                line=1,
                hint="tag the cell 'skip', or rewrite it in Python",
            )
        if name == "capture" and first.group(4).strip():
            var = first.group(4).split()[-1]
            out.warnings.append((1, f"%%capture {var}: the output is not captured; {var} is unset"))
        out.notes.append((1, f"%%{name}: its body is kept"))
        lines[0] = ""
    pending: list[str] = []  # the lines of an unfinished statement (brackets, strings)
    for n, line in enumerate(lines, start=1):
        if not pending:  # IPython syntax only starts a logical line
            line = lines[n - 1] = _line(line, n, out, file, cell)
        pending.append(line)
        if _complete("\n".join(pending)):
            pending = []
    out.source = "\n".join(lines)
    return out


def _complete(text: str) -> bool:
    """Does `text` end outside any bracket, multi-line string or backslash continuation?"""
    try:
        for _tok in tokenize.generate_tokens(io.StringIO(text + "\n").readline):
            pass
    except tokenize.TokenError:
        return False
    except (SyntaxError, ValueError):  # bad indentation and the like: the parser reports it
        return True
    return True


def _line(line: str, n: int, out: Transformed, file: str, cell: int) -> str:
    m = MAGIC.fullmatch(line)
    if m and m.group(2) == "%%":
        raise AnalysisError(
            f"cell magic %%{m.group(3)} is not on the cell's first line",
            file=file,
            cell=cell,
            line=n,
            hint="IPython runs cell magics only from the first line; tag the cell 'skip' or fix it",
        )
    if m and m.group(2) == "%":
        indent, _, name, rest = m.groups()
        filler = f"{indent}pass" if indent else ""
        if name in DROP_LINE:
            out.notes.append((n, f"%{name} dropped"))
            return filler
        if name in KEEP_LINE and rest.strip():
            out.notes.append((n, f"%{name}: the statement is kept, without timing"))
            return indent + _strip_options(rest)
        if name in PIP:
            return _pip(rest, n, out, file, cell) or filler
        raise AnalysisError(
            f"magic %{name} cannot run in a pipeline",
            file=file,
            cell=cell,
            line=n,
            hint="tag the cell 'skip', or rewrite the line in Python",
        )
    s = SHELL.fullmatch(line)
    if s:
        indent, cmd = s.groups()
        words = cmd.split()
        if words[:1] in (["pip"], ["pip3"]) or words[:3] == ["python", "-m", "pip"]:
            return _pip(cmd.split(None, 1)[1] if len(words) > 1 else "", n, out, file, cell) or (
                f"{indent}pass" if indent else ""
            )
        if "{" in cmd or "$" in cmd.replace("$$", ""):
            raise AnalysisError(
                "shell line interpolates Python values ({...} or $name)",
                file=file,
                cell=cell,
                line=n,
                hint="call subprocess.run yourself, or tag the cell 'skip'",
            )
        out.uses_subprocess = True
        out.warnings.append(
            (n, "shell command: a failing command fails the step (IPython would carry on)")
        )
        return f"{indent}subprocess.run({cmd.strip()!r}, shell=True, check=True)"
    if re.match(r"^\s*[\w.]+\s*=\s*[!%]", line):
        raise AnalysisError(
            "assigning the output of a magic or shell command is not supported",
            file=file,
            cell=cell,
            line=n,
            hint="use subprocess.run(..., capture_output=True), or tag the cell 'skip'",
        )
    if HELP.fullmatch(line) and line.strip() not in ("?",):
        out.notes.append((n, "help request (?) dropped"))
        indent = line[: len(line) - len(line.lstrip())]
        return f"{indent}pass" if indent else ""
    return line


def _strip_options(rest: str) -> str:
    words = rest.split(" ")
    while words and words[0].startswith("-"):
        words.pop(0)
        if words and words[0] and not words[0].startswith("-") and words[0].isdigit():
            words.pop(0)
    return " ".join(words)


def _pip(args: str, n: int, out: Transformed, file: str, cell: int) -> str | None:
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    if not words or words[0] != "install":
        raise AnalysisError(
            f"only 'pip install' can be converted, not 'pip {args[:30]}'",
            file=file,
            cell=cell,
            line=n,
            hint="tag the cell 'skip'",
        )
    names = []
    skip_next = False
    for w in words[1:]:
        if skip_next:
            skip_next = False
            continue
        if w in ("-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "-e"):
            skip_next = True
            out.warnings.append((n, f"pip option {w} not carried into requirements.txt"))
            continue
        if w.startswith("-"):
            continue
        name = re.split(r"[\[<>=!~;@ ]", w, maxsplit=1)[0]
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            names.append(name.lower())
    out.requirements += names
    out.notes.append((n, "pip install moved to requirements.txt: " + ", ".join(names)))
    return None
