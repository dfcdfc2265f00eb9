"""``nb2pipe tag``: propose ``step:NAME`` tags and write them into a copy of the notebook.

Where the steps come from:

- **headings** (default when the notebook has any below its title): the first code cell
  under each heading of the split level gets ``step:<heading as identifier>``, exactly the
  steps ``nb2pipe convert`` would cut without tags, now visible and editable;
- **data flow** (no headings, or ``--split-on flow``): every pipeline cell is analysed as
  its own step by the compiler (so mutation, ``inplace=True`` and aliases count as they do
  in ``convert``); a cell starts a new step when it produces a name that a later cell reads
  and that it did not receive (new data), and joins the step above when it only refines
  what it received (``df = df.dropna()``, ``model.fit(X, y)``) or produces nothing read later
  (display, print and plot cells).

Only ``step:`` tags are proposed (data edges are inferred, so no ``after:``); cells before
the first step stay in the implicit ``setup``/``imports`` sections. ``--clear`` removes the
structural words of nb2pipe's tag language, ``step:``/``block:``/``after:``/``prev:``, from
cell tags and from ``#| nb2pipe:`` directive lines (a directive left empty is removed);
role tags (``parameters``, ``skip``, ``metrics``, ``validate``, ...) and other tools' tags stay.
Nothing else in the notebook changes: cells, outputs, metadata and ids are written back as
read (nbformat for ``.ipynb``, jupytext for percent ``.py``).
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2pipe import compiler
from nb2pipe.compiler import magics, notebook, tags
from nb2pipe.compiler.model import Notebook
from nb2pipe.viz import roles
from nb2pipe.viz.graph import VizError, write_text
from nb2pipe.viz.roles import RoleProposal

STRUCTURAL = ("step:", "block:", "after:", "prev:")
LOAD_CALLS = {"open", "load", "loadtxt", "genfromtxt", "read", "urlopen"}
VERBS = (  # (verb, test on the called function's last name), first match wins
    ("split", lambda f: "split" in f),
    ("train", lambda f: f in {"fit", "fit_transform", "fit_predict", "partial_fit"}),
    ("evaluate", lambda f: "score" in f or "accuracy" in f or f in {"predict", "evaluate"}),
    ("load", lambda f: f in LOAD_CALLS or f.startswith(("read_", "load_", "fetch_"))),
)


@dataclass(frozen=True)
class Proposal:
    cell: int  # 1-based, counting every cell
    step: str
    reason: str


@dataclass(frozen=True)
class Result:
    out: Path | None
    proposals: list[Proposal]
    method: str  # "headings (h2)", "data flow", "cleared", "none"
    removed: int = 0
    message: str = ""
    roles: list[RoleProposal] = dataclasses.field(default_factory=list)


def is_structural(word: str) -> bool:
    return word.strip().lower().startswith(STRUCTURAL)


def has_step_tags(nb: Notebook) -> bool:
    return any(
        w.lower().startswith(("step:", "block:"))
        for c in nb.cells
        if c.cell_type == "code"
        for w in (*c.tags, *tags.directive_words(c.source))
    )


# ---------------------------------------------------------------- proposing


def _heading_above(nb: Notebook, index: int) -> str:
    for c in reversed(nb.cells[: index - 1]):
        if c.cell_type == "markdown":
            found = [
                m.group(2) for line in c.source.split("\n") if (m := tags.HEADING.fullmatch(line))
            ]
            if found:
                return found[-1]
    return ""


def from_headings(nb: Notebook, layout: Any) -> list[Proposal]:
    firsts: dict[str, int] = {}
    for plan in layout.cells:
        if plan.step and plan.role in ("step", "metrics") and plan.step not in firsts:
            firsts[plan.step] = plan.cell.index
    return [
        Proposal(cell, step, f"heading {_heading_above(nb, cell)!r}")
        for step, cell in firsts.items()
        if step != "setup"
    ]


def _called(source: str, file: str, cell: int) -> list[str]:
    try:
        tree = ast.parse(magics.transform(source, file=file, cell=cell).source)
    except Exception:  # noqa: BLE001 - a name is only a suggestion
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            names.append(name.lower())
    return names


def flow_name(source: str, new: list[str], used: set[str], file: str, cell: int) -> str:
    """`load`, `split`, `train`, `evaluate` from what the cell calls, else `make_<output>`;
    made unique with the output's name or a number."""
    called = _called(source, file, cell)
    verb = next((v for v, test in VERBS if any(test(f) for f in called)), "make")
    var = tags.identifier(new[0], "data") if new else "data"
    for cand in ([verb] if verb != "make" else []) + [f"{verb}_{var}"]:
        if cand.lower() not in used and cand != "setup":
            return cand
    n = 2
    while f"{verb}_{var}_{n}".lower() in used:
        n += 1
    return f"{verb}_{var}_{n}"


def _with_tags(nb: Notebook, extra: dict[int, str]) -> Notebook:
    cells = tuple(
        dataclasses.replace(c, tags=(*c.tags, f"step:{extra[c.index]}")) if c.index in extra else c
        for c in nb.cells
    )
    return dataclasses.replace(nb, cells=cells)


def from_flow(nb: Notebook, layout: Any) -> list[Proposal]:
    candidates = [p.cell for p in layout.cells if p.role == "step" and p.cell.source.strip()]
    if not candidates:
        return []
    per_cell = _with_tags(nb, {c.index: f"cell_{c.index}" for c in candidates})
    pipe = compiler.compile(per_cell).pipeline
    out: list[Proposal] = []
    used: set[str] = set()
    for c in candidates:
        step = pipe.step(f"cell_{c.index}")
        new = [o for o in step.outputs if o not in step.inputs]
        if out and not new:
            continue
        name = flow_name(c.source, new, used, nb.path, c.index)
        used.add(name.lower())
        why = f"makes {', '.join(new[:4])}{' ...' if len(new) > 4 else ''}" if new else "first step"
        out.append(Proposal(c.index, name, why))
    return out


def propose(nb: Notebook, split_on: str | None = None) -> tuple[list[Proposal], str]:
    """Step tags for an untagged notebook and how they were found."""
    heading_split = split_on if split_on in ("h1", "h2", "h3") else None
    layout = compiler.front(nb, split_on=heading_split)
    if split_on != "flow" and layout.split.startswith("h"):
        return from_headings(nb, layout), f"headings ({layout.split})"
    proposals = from_flow(nb, layout)
    check = _with_tags(nb, {p.cell: p.step for p in proposals})
    compiler.compile(check)  # the proposal must convert: raise if not
    return proposals, "data flow"


# ---------------------------------------------------------------- editing the file


def _read(path: Path) -> Any:
    if path.suffix == ".py":
        import jupytext

        return jupytext.read(path, fmt="py:percent")
    import nbformat

    return nbformat.read(path, as_version=4)


def _write(nb: Any, path: Path) -> None:
    if path.suffix == ".py":
        import jupytext

        meta = nb.metadata.get("jupytext", {})
        if meta.get("cell_metadata_filter") == "-all":  # a script without header: keep tags
            meta["cell_metadata_filter"] = "tags,-all"
        text = jupytext.writes(nb, fmt="py:percent")
    else:
        import nbformat

        text = nbformat.writes(nb)
    write_text(path, text if text.endswith("\n") else text + "\n")


def add_tags(nb: Any, proposals: list[Proposal]) -> None:
    for p in proposals:
        cell = nb.cells[p.cell - 1]
        cell.metadata.setdefault("tags", [])
        cell.metadata["tags"].append(f"step:{p.step}")


def clear_tags(nb: Any) -> int:
    """Remove step:/block:/after:/prev: from tags and directives; return how many words."""
    removed = 0
    for cell in nb.cells:
        old = list(cell.metadata.get("tags") or [])
        kept = [t for t in old if not (isinstance(t, str) and is_structural(t))]
        removed += len(old) - len(kept)
        if len(kept) != len(old):
            if kept:
                cell.metadata["tags"] = kept
            else:
                del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.source, n = _clear_directive(cell.source)
            removed += n
    return removed


def _clear_directive(source: str) -> tuple[str, int]:
    first, nl, rest = source.partition("\n")
    m = tags.DIRECTIVE.fullmatch(first)
    if not m:
        return source, 0
    words = m.group(1).split()
    kept = [w for w in words if not is_structural(w)]
    if len(kept) == len(words):
        return source, 0
    if not kept:
        return rest, len(words)
    prefix = first[: m.start(1)]
    return f"{prefix} {' '.join(kept)}{nl}{rest}", len(words) - len(kept)


def default_out(path: Path) -> Path:
    return path.with_name(f"{path.stem}.tagged{path.suffix}")


def run(
    path: str | Path,
    *,
    out: str | Path | None = None,
    in_place: bool = False,
    clear: bool = False,
    split_on: str | None = None,
    force: bool = False,
) -> Result:
    src = Path(path)
    if split_on not in (None, "h1", "h2", "h3", "flow"):
        raise VizError(f"--split-on must be h1, h2, h3 or flow, not {split_on!r}")
    if in_place and out is not None:
        raise VizError("give either -o or --in-place, not both")
    model = notebook.read(src)
    target = src if in_place else Path(out) if out is not None else default_out(src)
    if not in_place and target.exists() and not force:
        if target.resolve() == src.resolve():
            raise VizError("-o names the notebook itself", hint="use --in-place")
        raise VizError(f"{target} exists", hint="pass --force to replace it, or -o elsewhere")
    nb = _read(src)
    if clear:
        removed = clear_tags(nb)
        _write(nb, target)
        return Result(target, [], "cleared", removed)
    if has_step_tags(model):
        return Result(
            None,
            [],
            "none",
            message="the notebook already has step tags: nothing proposed, nothing written "
            "(--clear removes them)",
        )
    found = roles.propose(model)
    with_roles = dataclasses.replace(
        model,
        cells=tuple(
            dataclasses.replace(c, tags=(*c.tags, *(r.tag for r in found if r.cell == c.index)))
            for c in model.cells
        ),
    )
    proposals, method = propose(with_roles, split_on)
    for r in found:
        cell = nb.cells[r.cell - 1]
        cell.metadata.setdefault("tags", []).append(r.tag)
    add_tags(nb, proposals)
    _write(nb, target)
    return Result(target, proposals, method, roles=found)


def describe(result: Result) -> list[str]:
    rows = [(p.cell, f"step:{p.step}", p.reason) for p in result.proposals]
    rows += [(r.cell, r.tag, r.reason) for r in result.roles]
    lines = [f"cell {cell:>3}  {tag:<29} {reason}" for cell, tag, reason in sorted(rows)]
    if result.message:
        lines.append(result.message)
    elif result.method == "cleared":
        lines.append(f"removed {result.removed} step/after tag(s); wrote {result.out}")
    else:
        lines.append(
            f"wrote {result.out} ({len(result.proposals)} step tag(s) from {result.method}, "
            f"{len(result.roles)} role tag(s)); refine them in JupyterLab's property "
            "inspector, then `nb2pipe inspect` it"
        )
    return lines
