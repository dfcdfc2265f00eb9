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

from nb2pipe.compiler import magics, params, tagcheck
from nb2pipe.compiler.model import Cell, CellPlan, Diagnostic, Layout, Notebook
from nb2pipe.compiler.rules import is_setting
from nb2pipe.errors import Nb2pipeError, TagError

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


_PREFIX_OF = {"step name": "step:", "after: target": "after:", "model name": "model:"}


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
        prefix = _PREFIX_OF.get(what, f"{what} ")
        fallback = "model" if what == "model name" else "step"
        raise TagError(
            f"{what} {shown!r} {problem}",
            file=file,
            cell=cell,
            hint=f"did you mean {tagcheck.name_suggestion(raw, prefix, fallback)}?",
        )
    return name


def _parse(cell: Cell, file: str, diags: list[Diagnostic]) -> _CellTags:
    out = _CellTags()
    problem = tagcheck.directive_problem(cell.source)
    if problem is not None:
        line, message, hint = problem
        raise TagError(message, file=file, cell=cell.index, line=line, hint=hint)
    directive = directive_words(cell.source)
    for n, tag in enumerate(list(cell.tags) + directive):
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
            _foreign(t, cell, file, diags, in_directive=n >= len(cell.tags))
            out.foreign.append(tag)
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


def _foreign(t: str, cell: Cell, file: str, diags: list[Diagnostic], *, in_directive: bool):
    """A tag that is not one of ours: a near-miss of ours is an error, a word in a directive
    must be ours, another tool's tag passes, anything else passes with a note."""
    shown = t[:40]
    if not tagcheck.is_foreign(t):
        suggestion = tagcheck.near_miss(t)
        if suggestion:
            raise TagError(
                f"tag {shown!r} is not an nb2pipe tag",
                file=file,
                cell=cell.index,
                hint=f"did you mean {suggestion!r}?",
            )
    if in_directive:
        raise TagError(
            f"{shown!r} in the `#| nb2pipe:` directive is not an nb2pipe tag",
            file=file,
            cell=cell.index,
            line=1,
            hint="directives carry nb2pipe's words only: " + ", ".join(KNOWN_WORDS),
        )
    if not tagcheck.is_foreign(t):
        diags.append(
            Diagnostic(
                "note",
                f"tag {shown!r} is neither nb2pipe's nor a known tool's: ignored",
                cell=cell.index,
                code="unknown-tag",
            )
        )


_SETTINGS_HEADING = re.compile(r"param|config|setting|option|constant|knob", re.IGNORECASE)


def _implicit_parameters(nb: Notebook, parsed: dict[int, _CellTags], diags: list[Diagnostic]):
    """In a notebook without nb2pipe tags, the first code cell that is not only imports
    becomes the parameters cell when it holds only literal assignments (papermill's habit)
    and no heading but the title (or one about parameters, configuration or settings)
    comes before it: literals under a section heading are that section's data."""
    if any(t.roles or t.steps or t.after or t.models for t in parsed.values()):
        return
    every = [h for c in nb.cells if c.cell_type == "markdown" for h in _headings(c.source)]
    titled = bool(every) and every[0][0] == 1 and [lvl for lvl, _ in every].count(1) == 1
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    headings: list[tuple[int, str]] = []
    for c in nb.cells:
        if c.cell_type == "markdown":
            headings += _headings(c.source)
            continue
        if c.cell_type != "code" or not c.source.strip() or _only_imports(c.source):
            continue
        above = headings[1:] if titled else headings
        above = [h for h in above if not _SETTINGS_HEADING.search(h[1])]
        rest = [d for d in code if d.index > c.index and not _only_imports(d.source)]
        if not above and rest and params.is_literal_cell(c.source):
            parsed[c.index].roles.append("parameters")
            diags.append(
                Diagnostic(
                    "note",
                    "no cell is tagged `parameters`: this first cell of literal assignments is "
                    "taken as the parameters (tag it `parameters` to say so, or give the "
                    "notebook nb2pipe tags to say otherwise)",
                    c.index,
                    code="implicit-parameters",
                )
            )
        return


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
    _implicit_parameters(nb, parsed, diags)
    any_step = any(t.steps for t in parsed.values())
    if split_on is not None and split_on not in ("h1", "h2", "h3"):
        raise TagError(f"--split-on must be h1, h2 or h3, not {split_on!r}", file=nb.path)
    starts, split = _starts(nb, parsed, split_on, any_step, diags)
    walk = _Sections(nb, parsed, starts, split, diags)
    for cell in nb.cells:
        walk.add(cell)
    if split != "tags":
        walk.docs.update({k: v for k, v in _heading_docs(nb, starts).items() if k in walk.docs})
    _check_after(nb.path, walk.plans, walk.order)
    return Layout(nb, tuple(walk.plans), tuple(walk.order), walk.docs, split, tuple(diags))


def _starts(
    nb: Notebook,
    parsed: dict[int, _CellTags],
    split_on: str | None,
    any_step: bool,
    diags: list[Diagnostic],
) -> tuple[dict[int, str], str]:
    """Where steps start (cell index -> step name) and how the notebook is split."""
    if any_step:
        if split_on:
            diags.append(Diagnostic("note", "--split-on ignored: the notebook has step tags"))
        return {i: t.steps[0] for i, t in parsed.items() if t.steps}, "tags"
    starts, split = _heading_starts(nb, parsed, split_on)
    if split_on and split == "single":
        diags.append(
            Diagnostic(
                "note",
                f"--split-on {split_on}: no such heading below the title, so one step",
                code="split-on",
            )
        )
    return starts, split


class _Sections:
    """The walk over the cells that cuts them into steps, in notebook order."""

    def __init__(
        self,
        nb: Notebook,
        parsed: dict[int, _CellTags],
        starts: dict[int, str],
        split: str,
        diags: list[Diagnostic],
    ) -> None:
        self.nb, self.parsed, self.starts, self.split, self.diags = nb, parsed, starts, split, diags
        self.spelled = {i: t.spelled[0] for i, t in parsed.items() if t.spelled}
        self.plans: list[CellPlan] = []
        self.order: list[str] = []
        self.seen_lower: dict[str, str] = {}
        self.first_cell: dict[str, int] = {}  # step name (lower case) -> the cell naming it
        # Names given by tags or headings: the implicit `setup` step and gates avoid them.
        self.reserved = {name.lower() for name in starts.values()}
        self.docs: dict[str, str] = {}
        self.current: str | None = None
        self.pending_md: list[Cell] = []
        self.gate_count: dict[str, int] = {}

    def add(self, cell: Cell) -> None:
        if cell.cell_type != "code":
            self.plans.append(CellPlan(cell, None))
            if cell.cell_type == "markdown":
                self.pending_md.append(cell)
            return
        md_above, self.pending_md = self.pending_md, []
        if cell.index in self.spelled and self.starts.get(cell.index) == self.current:
            _same_spelling(self.current, self.spelled, self.first_cell, cell.index, self.nb.path)
        if cell.index in self.starts and self.starts[cell.index] != self.current:
            self._tagged_step(cell, md_above)
        self.plans.append(self._plan(cell, self.parsed[cell.index], md_above))

    def _tagged_step(self, cell: Cell, md_above: list[Cell]) -> None:
        """The same step tag again on the next cells continues the step (Kale tags every
        cell of a block); only a name used again after another step is refused."""
        name = self.starts[cell.index]
        low = name.lower()
        if low in self.seen_lower:
            first = self.seen_lower[low]
            what = "appears again after another step" if first == name else "differs only in case"
            at = self.first_cell.get(low)
            shown, first = self.spelled.get(cell.index, name), self.spelled.get(at or -1, first)
            raise TagError(
                f"step {shown!r} {what} (first used as {first!r}"
                + (f" in cell {at})" if at is not None else ")"),
                file=self.nb.path,
                cell=cell.index,
                hint="a step's cells must be contiguous and names unique; rename one",
            )
        self.seen_lower[low] = name
        self.first_cell[low] = cell.index
        self.order.append(name)
        self.docs[name] = _doc(md_above) if self.split == "tags" else self.docs.get(name, "")
        self.current = name

    def _plan(self, cell: Cell, t: _CellTags, md_above: list[Cell]) -> CellPlan:
        role = _role(t)
        foreign = tuple(t.foreign)
        if not cell.source.strip():
            return CellPlan(cell, "skip" if not role else role, None)
        if role == "injected":
            self.diags.append(
                Diagnostic("note", "papermill's injected-parameters cell ignored", cell.index)
            )
            return CellPlan(cell, "injected", None, foreign_tags=foreign)
        if role in ("parameters", "imports", "functions", "skip"):
            return CellPlan(cell, role, None, tuple(t.after), foreign_tags=foreign)
        if self.current is None and role is None:
            if _only_imports(cell.source):
                return CellPlan(cell, "imports", None, foreign_tags=foreign)
            self.current = _setup_name(cell.index, self.starts, self.reserved)
            self.seen_lower[self.current.lower()] = self.current
            self.order.append(self.current)
            self.docs[self.current] = _doc(md_above)
        if role == "validate":
            gate = self._gate(cell, md_above)
            return CellPlan(cell, "validate", gate, tuple(t.after), foreign_tags=foreign)
        if self.current is None:  # a metrics cell before any step
            raise TagError(
                "a metrics cell comes before any step",
                file=self.nb.path,
                cell=cell.index,
                hint="move it after the step that computes the metrics",
            )
        return CellPlan(
            cell,
            role or "step",  # type: ignore[arg-type]
            self.current,
            tuple(t.after),
            model_name=t.models[0] if t.models else None,
            foreign_tags=foreign,
        )

    def _gate(self, cell: Cell, md_above: list[Cell]) -> str:
        """A validate cell is a gate step of its own: check_<the step before it>."""
        base = self.current or "parameters"
        self.gate_count[base] = self.gate_count.get(base, 0) + 1
        n = self.gate_count[base]
        gate = f"check_{base}" if n == 1 else f"check_{base}_{n}"
        while gate.lower() in self.seen_lower or gate.lower() in self.reserved:
            gate += "_"
        self.seen_lower[gate.lower()] = gate
        self.order.append(gate)
        self.docs[gate] = _doc(md_above) or f"Checks of the notebook's cell {cell.index}."
        return gate


def _check_after(file: str, plans: list[CellPlan], order: list[str]) -> None:
    known = set(order)
    for plan in plans:
        for a in plan.after:
            if a not in known:
                close = difflib.get_close_matches(a, sorted(known), 1)
                raise TagError(
                    f"after:{a} names no step",
                    file=file,
                    cell=plan.cell.index,
                    hint=f"did you mean after:{close[0]}?"
                    if close
                    else "steps: " + ", ".join(order),
                )


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
    level, cut = _cut(nb, split_on)
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


def _cut(nb: Notebook, split_on: str | None) -> tuple[int, list[tuple[int, str]]]:
    """The heading level steps are cut at, and its headings: (cell index, text)."""
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
    return level, cut


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
