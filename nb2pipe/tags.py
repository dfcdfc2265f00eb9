"""The tag language (SPEC section 1): cell tags -> roles, steps, docstrings.

Input: a Notebook. Output: a Layout saying, for every cell, what it is and which step it
belongs to. No code analysis happens here beyond recognising import-only cells.
"""

from __future__ import annotations

import ast
import difflib
import keyword
import re
import unicodedata
from dataclasses import dataclass, field

from nb2pipe import magics
from nb2pipe.errors import Nb2pipeError, TagError
from nb2pipe.model import Cell, CellPlan, Diagnostic, Layout, Notebook
from nb2pipe.rules import is_setting

ROLE_TAGS = {
    "parameters": "parameters",
    "pipeline-parameters": "parameters",  # Kale
    "imports": "imports",
    "functions": "functions",
    "skip": "skip",
    "metrics": "metrics",
    "pipeline-metrics": "metrics",  # Kale
    "validate": "validate",
    "injected-parameters": "injected",  # papermill
}
STEP_PREFIXES = ("step:", "block:")  # block: is Kale's
AFTER_PREFIXES = ("after:", "prev:")  # prev: is Kale's
MODEL_PREFIX = "model:"
KNOWN_WORDS = sorted(ROLE_TAGS) + ["step", "block", "after", "prev", "model"]
DIRECTIVE = re.compile(r"^\s*#\|\s*nb2pipe:(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME = 80
RESERVED_MODELS = {"registry"}  # <registry>/REGISTRY holds the layout version


@dataclass
class _CellTags:
    roles: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    spelled: list[str] = field(default_factory=list)  # the step tags as written
    after: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def directive_words(source: str) -> list[str]:
    """Words of a first-line ``#| nb2pipe: step:train after:split`` directive."""
    first = source.split("\n", 1)[0]
    m = DIRECTIVE.fullmatch(first)
    return m.group(1).split() if m else []


def step_name(raw: str, *, file: str, cell: int, what: str = "step name") -> str:
    """Validate a step name from a tag; '-' becomes '_'."""
    name = raw.strip().replace("-", "_")
    shown = raw[:40] + ("..." if len(raw) > 40 else "")
    problem = None
    if not name:
        problem = "is empty"
    elif len(name) > MAX_NAME:
        problem = f"is longer than {MAX_NAME} characters"
    elif not NAME_RE.fullmatch(name):
        problem = "is not an identifier (letters, digits and '_', not starting with a digit)"
    elif keyword.iskeyword(name):
        problem = "is a Python keyword"
    elif name.startswith("__") and name.endswith("__"):
        problem = "is a dunder name"
    if problem:
        raise TagError(
            f"{what} {shown!r} {problem}",
            file=file,
            cell=cell,
            hint="use a name such as step:train_model",
        )
    return name


def _timeout(word: str, *, file: str, cell: int) -> str:
    """The cell option ``timeout=S`` (seconds), normalised; kept with the step's tags."""
    from nb2pipe.runtime.limits import seconds

    try:
        return f"timeout={seconds(word.split('=', 1)[1]):g}"
    except ValueError as exc:
        raise TagError(str(exc), file=file, cell=cell, hint="write timeout=600") from None


def _parse(cell: Cell, file: str, diags: list[Diagnostic]) -> _CellTags:
    out = _CellTags()
    words = list(cell.tags) + directive_words(cell.source)
    for tag in words:
        t = tag.strip()
        low = t.lower()
        if low in ROLE_TAGS:
            role = ROLE_TAGS[low]
            if role not in out.roles:
                out.roles.append(role)
        elif low.startswith(STEP_PREFIXES):
            out.steps.append(step_name(t.split(":", 1)[1], file=file, cell=cell.index))
            out.spelled.append(t.split(":", 1)[1].strip())
        elif low.startswith(AFTER_PREFIXES):
            out.after.append(
                step_name(t.split(":", 1)[1], file=file, cell=cell.index, what="after: target")
            )
        elif low.startswith("timeout="):
            out.foreign.append(_timeout(t, file=file, cell=cell.index))  # read by the runtime
        elif low.startswith(MODEL_PREFIX):
            name = step_name(t.split(":", 1)[1], file=file, cell=cell.index, what="model name")
            if name.lower() in RESERVED_MODELS:
                raise TagError(
                    f"model name {name!r} is the name of the model registry's own file",
                    file=file,
                    cell=cell.index,
                    hint=f"use another name, such as model:{name.lower()}_model",
                )
            out.models.append(name)
        else:
            out.foreign.append(tag)
            suggestion = _near_miss(t)
            if suggestion:
                diags.append(
                    Diagnostic(
                        "warning",
                        f"tag {t[:40]!r} is not an nb2pipe tag; did you mean {suggestion!r}?",
                        cell=cell.index,
                        code="near-miss-tag",
                    )
                )
    if len(out.steps) > 1:
        raise TagError(
            f"the cell has {len(out.steps)} step tags ({', '.join(out.steps)})",
            file=file,
            cell=cell.index,
            hint="give each cell at most one step:NAME tag",
        )
    exclusive = [r for r in out.roles if r in ("parameters", "imports", "functions", "injected")]
    if len(exclusive) > 1 or (exclusive and out.steps):
        both = exclusive + [f"step:{s}" for s in out.steps]
        raise TagError(
            f"the cell is tagged both {both[0]!r} and {both[1]!r}",
            file=file,
            cell=cell.index,
            hint="keep one of the two tags",
        )
    return out


def _near_miss(tag: str) -> str | None:
    head, sep, rest = tag.lower().partition(":")
    if not sep and head in ("step", "block", "after", "prev"):
        return f"{head}:NAME"  # the word without its name
    if sep:
        close = difflib.get_close_matches(head, ["step", "block", "after", "prev", "model"], 1, 0.7)
        return f"{close[0]}:{rest}" if close else None
    close = difflib.get_close_matches(head, sorted(ROLE_TAGS), 1, 0.8)
    return close[0] if close else None


def _only_imports(source: str) -> bool:
    """Only imports and process-wide settings (`np.random.seed(0)`, `%matplotlib inline`):
    before the first step such a cell is an imports cell, replayed in every step."""
    try:
        tree = ast.parse(magics.transform(source, file="", cell=0).source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, Nb2pipeError):
        return False
    imported: set[str] = set()
    for s in tree.body:
        if isinstance(s, ast.Import | ast.ImportFrom):
            imported |= {(a.asname or a.name).split(".")[0] for a in s.names}
    return all(
        isinstance(s, ast.Import | ast.ImportFrom) or is_setting(s, imported) for s in tree.body
    )


def _headings(markdown: str) -> list[tuple[int, str]]:
    found, fenced = [], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := HEADING.fullmatch(line)):
            found.append((len(m.group(1)), m.group(2)))
    return found


def _doc(markdown_cells: list[Cell]) -> str:
    """Markdown just above a step, without heading lines (the heading if nothing else)."""
    text_lines: list[str] = []
    heading = ""
    for c in markdown_cells:
        for line in c.source.split("\n"):
            m = HEADING.fullmatch(line)
            if m:
                heading = heading or m.group(2)
            else:
                text_lines.append(line)
    body = "\n".join(text_lines).strip()
    return body or heading


def identifier(text: str, fallback: str = "step") -> str:
    """A heading or file name made a step identifier: 'Train the model!' -> 'train_the_model'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^0-9A-Za-z]+", "_", ascii_text.lower()).strip("_")[:MAX_NAME].strip("_")
    if not name:
        name = fallback
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"{fallback}_{name}"
    return name


def assign(nb: Notebook, split_on: str | None = None) -> Layout:
    """Give every cell its role and step (SPEC section 1)."""
    diags: list[Diagnostic] = []
    parsed = {c.index: _parse(c, nb.path, diags) for c in nb.cells if c.cell_type == "code"}
    any_step = any(t.steps for t in parsed.values())
    if split_on is not None and split_on not in ("h1", "h2", "h3"):
        raise TagError(f"--split-on must be h1, h2 or h3, not {split_on!r}", file=nb.path)
    spelled = {i: t.spelled[0] for i, t in parsed.items() if t.spelled}
    if any_step:
        starts = {i: t.steps[0] for i, t in parsed.items() if t.steps}
        split = "tags"
        if split_on:
            diags.append(Diagnostic("note", "--split-on ignored: the notebook has step tags"))
    else:
        starts, split = _heading_starts(nb, parsed, split_on)
        if split_on and split == "single":
            diags.append(
                Diagnostic(
                    "note",
                    f"--split-on {split_on}: no such heading below the title, so one step",
                    code="split-on",
                )
            )

    plans: list[CellPlan] = []
    order: list[str] = []
    seen_lower: dict[str, str] = {}
    first_cell: dict[str, int] = {}  # step name (lower case) -> the cell whose tag named it
    # Names given by tags or headings: the implicit `setup` step and gates avoid them.
    reserved = {name.lower() for name in starts.values()}
    docs: dict[str, str] = {}
    current: str | None = None
    pending_md: list[Cell] = []
    gate_count: dict[str, int] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            plans.append(CellPlan(cell, None))
            if cell.cell_type == "markdown":
                pending_md.append(cell)
            continue
        t = parsed[cell.index]
        md_above, pending_md = pending_md, []
        role = _role(t)
        if cell.index in spelled and starts.get(cell.index) == current:
            _same_spelling(current, spelled, first_cell, cell.index, nb.path)
        if cell.index in starts and starts[cell.index] != current:
            # The same step tag again on the next cells continues the step (Kale tags
            # every cell of a block); only a name used again after another step is refused.
            name = starts[cell.index]
            low = name.lower()
            if low in seen_lower:
                first = seen_lower[low]
                what = (
                    "appears again after another step" if first == name else "differs only in case"
                )
                at = first_cell.get(low)
                shown, first = spelled.get(cell.index, name), spelled.get(at or -1, first)
                raise TagError(
                    f"step {shown!r} {what} (first used as {first!r}"
                    + (f" in cell {at})" if at is not None else ")"),
                    file=nb.path,
                    cell=cell.index,
                    hint="a step's cells must be contiguous and names unique; rename one",
                )
            seen_lower[low] = name
            first_cell[low] = cell.index
            order.append(name)
            docs[name] = _doc(md_above) if split == "tags" else docs.get(name, "")
            current = name
        if not cell.source.strip():
            plans.append(CellPlan(cell, "skip" if not role else role, None))
            continue
        if role == "injected":
            diags.append(
                Diagnostic("note", "papermill's injected-parameters cell ignored", cell.index)
            )
            plans.append(CellPlan(cell, "injected", None, foreign_tags=tuple(t.foreign)))
            continue
        if role in ("parameters", "imports", "functions", "skip"):
            plans.append(CellPlan(cell, role, None, tuple(t.after), foreign_tags=tuple(t.foreign)))
            continue
        if current is None and role is None:
            if _only_imports(cell.source):
                plans.append(CellPlan(cell, "imports", None, foreign_tags=tuple(t.foreign)))
                continue
            current = _setup_name(cell.index, starts, reserved)
            seen_lower[current.lower()] = current
            order.append(current)
            docs[current] = _doc(md_above)
        if role == "validate":
            base = current or "parameters"
            gate_count[base] = gate_count.get(base, 0) + 1
            n = gate_count[base]
            gate = f"check_{base}" if n == 1 else f"check_{base}_{n}"
            while gate.lower() in seen_lower or gate.lower() in reserved:
                gate += "_"
            seen_lower[gate.lower()] = gate
            order.append(gate)
            docs[gate] = _doc(md_above) or f"Checks of the notebook's cell {cell.index}."
            plans.append(
                CellPlan(cell, "validate", gate, tuple(t.after), foreign_tags=tuple(t.foreign))
            )
            continue
        if current is None:  # a metrics cell before any step
            raise TagError(
                "a metrics cell comes before any step",
                file=nb.path,
                cell=cell.index,
                hint="move it after the step that computes the metrics",
            )
        plans.append(
            CellPlan(
                cell,
                role or "step",
                current,
                tuple(t.after),
                model_name=t.models[0] if t.models else None,
                foreign_tags=tuple(t.foreign),
            )
        )
    if split != "tags":
        docs.update({k: v for k, v in _heading_docs(nb, starts).items() if k in docs})
    known = set(order)
    for plan in plans:
        for a in plan.after:
            if a not in known:
                close = difflib.get_close_matches(a, sorted(known), 1)
                raise TagError(
                    f"after:{a} names no step",
                    file=nb.path,
                    cell=plan.cell.index,
                    hint=f"did you mean after:{close[0]}?"
                    if close
                    else "steps: " + ", ".join(order),
                )
    return Layout(nb, tuple(plans), tuple(order), docs, split, tuple(diags))


def _same_spelling(
    name: str, spelled: dict[int, str], first_cell: dict[str, int], index: int, file: str
) -> None:
    """A step tag continuing a step must spell it as the tag that started it: `step:a-b`
    then `step:a_b` name one step only after '-' becomes '_' (a typo more often than not)."""
    first = first_cell.get(name.lower())
    if first is not None and first in spelled and spelled[first] != spelled[index]:
        raise TagError(
            f"step tags {spelled[first]!r} (cell {first}) and {spelled[index]!r} name the "
            f"same step {name!r}",
            file=file,
            cell=index,
            hint="spell the step tag the same way in both cells, or rename one step",
        )


def _setup_name(index: int, starts: dict[int, str], reserved: set[str]) -> str:
    """The step formed by code before the first step: `setup`, joining the first step if
    that is called setup too, else a name no tag or heading uses."""
    following = [starts[i] for i in sorted(starts) if i > index]
    if following and following[0].lower() == "setup":
        return following[0]
    name, n = "setup", 1
    while name in reserved:
        n += 1
        name = f"setup_{n}"
    return name


def _role(t: _CellTags) -> str | None:
    for r in ("injected", "skip", "parameters", "imports", "functions", "validate", "metrics"):
        if r in t.roles:
            return r
    return None


def _heading_starts(
    nb: Notebook, parsed: dict[int, _CellTags], split_on: str | None
) -> tuple[dict[int, str], str]:
    """Without step tags: cut steps at markdown headings of one level."""
    heads: list[tuple[int, int, str]] = []  # (cell index, level, text)
    for c in nb.cells:
        if c.cell_type == "markdown":
            heads += [(c.index, lvl, text) for lvl, text in _headings(c.source)]
    if split_on:
        level = int(split_on[1])
    else:
        levels = [lvl for _, lvl, _ in heads]
        # The title: a single h1 that comes first is not a step boundary.
        if levels and levels[0] == 1 and levels.count(1) == 1:
            levels = levels[1:]
        level = min(levels) if levels else 0
    cut = [(i, text) for i, lvl, text in heads if lvl == level]
    if level == 1 and not split_on and sum(1 for _, lvl, _ in heads if lvl == 1) == 1:
        cut = []
    starts: dict[int, str] = {}
    used: dict[str, int] = {}
    code_cells = [c for c in nb.cells if c.cell_type == "code"]

    def pipeline_cell(c: Cell) -> bool:
        r = _role(parsed[c.index])
        return c.source.strip() != "" and r not in ("parameters", "imports", "functions", "skip")

    if not cut:
        first = next(
            (c for c in code_cells if pipeline_cell(c) and not _only_imports(c.source)), None
        )
        if first is not None:
            starts[first.index] = identifier(nb.name, "pipeline")
        return starts, "single"
    for n, (md_index, text) in enumerate(cut):
        end = cut[n + 1][0] if n + 1 < len(cut) else 10**9
        first = next(
            (c for c in code_cells if md_index < c.index < end and pipeline_cell(c)),
            None,
        )
        if first is None:
            continue
        name = identifier(text)
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name = f"{name}_{used[name]}"
        starts[first.index] = name
    return starts, f"h{level}"


def _heading_docs(nb: Notebook, starts: dict[int, str]) -> dict[str, str]:
    """Docstring of a heading-split step: the markdown from its heading to its first code."""
    docs: dict[str, str] = {}
    cells = list(nb.cells)
    for i, c in enumerate(cells):
        if c.index not in starts:
            continue
        md: list[Cell] = []
        j = i - 1
        while j >= 0 and cells[j].cell_type != "code":
            if cells[j].cell_type == "markdown":
                md.insert(0, cells[j])
            j -= 1
        docs[starts[c.index]] = _doc(md)
    return docs
