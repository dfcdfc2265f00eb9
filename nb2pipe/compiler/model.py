"""The pipeline model: frozen dataclasses, no I/O.

A conversion is a chain of passes over these values (``nb2pipe.compiler.compile``):
``notebook.read`` -> ``Notebook`` -> ``tags.assign`` -> ``Layout`` -> ``analysis.analyze``
-> ``Analysis`` (nb2pipe.compiler.analysed) -> ``hazards.check`` -> ``assemble`` ->
``Pipeline`` -> ``nb2pipe.codegen`` -> files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nb2pipe.runtime.randomstate import RANDOM_STATE

CellType = Literal["code", "markdown", "raw"]
Role = Literal[
    "parameters", "imports", "functions", "step", "skip", "metrics", "validate", "injected"
]
Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Cell:
    """One notebook cell. ``index`` is 1-based, counting every cell, markdown included."""

    index: int
    cell_type: CellType
    source: str
    tags: tuple[str, ...] = ()
    cell_id: str | None = None


@dataclass(frozen=True)
class Notebook:
    path: str  # as given by the user
    name: str  # file stem, e.g. "wine_classifier"
    cells: tuple[Cell, ...]
    sha256: str  # of the file's bytes
    language: str = "python"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    cell: int | None = None
    line: int | None = None
    code: str = ""  # short stable identifier, e.g. "near-miss-tag"

    def __str__(self) -> str:
        where = []
        if self.cell is not None:
            where.append(f"cell {self.cell}")
        if self.line is not None:
            where.append(f"line {self.line}")
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{self.severity}: {prefix}{self.message}"


@dataclass(frozen=True)
class CellPlan:
    """What the tag pass decided about one cell."""

    cell: Cell
    role: Role | None  # None: markdown/raw, or an untagged code cell continuing a step
    step: str | None = None  # the step this cell belongs to (code cells of steps, gates)
    after: tuple[str, ...] = ()
    model_name: str | None = None
    foreign_tags: tuple[str, ...] = ()  # tags of other tools, kept for exporters


@dataclass(frozen=True)
class Layout:
    """Cells grouped into sections: the output of the tag pass."""

    notebook: Notebook
    cells: tuple[CellPlan, ...]
    step_order: tuple[str, ...]
    docs: dict[str, str]  # step -> markdown just above it
    split: str  # "tags", "h1", "h2", "h3" or "single"
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # "int", "float", "bool", "str", "list", "dict", "tuple", "Any"
    default: Any
    optional: bool = False
    help: str = ""
    secret: bool = False
    env: str | None = None  # environment variable a secret is read from
    cell: int = 0
    line: int = 0


@dataclass(frozen=True)
class Derived:
    """A value computed from the parameters (non-literal assignment in the parameters cell)."""

    name: str
    cell: int
    line: int


@dataclass(frozen=True)
class Fragment:
    """Python source from one cell, at top-level indentation, ready to be placed."""

    cell: int
    source: str


@dataclass(frozen=True)
class Display:
    """A library's display settings (how it prints or plots), replayed only by the steps
    that use the library and kept out of their cache keys (nb2pipe.compiler.display)."""

    library: str  # "pandas", "numpy" or "plotting"
    fragments: tuple[Fragment, ...]


@dataclass(frozen=True)
class Step:
    name: str
    kind: Literal["step", "gate"]
    cells: tuple[int, ...]
    doc: str
    inputs: dict[str, str]  # variable -> producing step, in first-read order
    outputs: tuple[str, ...]
    params: tuple[str, ...]  # parameters and derived values read
    after: tuple[str, ...]  # explicit ordering edges: after: tags and gates
    metrics: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # "NAME=VARIABLE" for each model:NAME cell
    imports: tuple[str, ...] = ()  # import statements (source) the step module needs
    body: tuple[Fragment, ...] = ()  # the step function's code, cell by cell
    hoisted: tuple[Fragment, ...] = ()  # functions and classes placed at module level
    uses_common: tuple[str, ...] = ()
    uses_steps: dict[str, tuple[str, ...]] = field(default_factory=dict)  # defs from other steps
    distributions: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    foreign_tags: tuple[str, ...] = ()
    mutates: tuple[str, ...] = ()  # inputs the step changes in place (they are outputs too)
    maybe_unset: tuple[str, ...] = ()  # outputs the step binds on some paths only
    directions: dict[str, str] = field(default_factory=dict)  # metric -> "higher" | "lower"
    primary: str = ""  # the metric marked `# primary` (the champion policy's)
    # The seeded global random streams this step draws from: its state comes in and goes
    # out as the artifact RANDOM_STATE (in inputs/outputs, never in the function's
    # signature); `random_guard`: seeded streams it must leave alone (checked at run time).
    random: tuple[str, ...] = ()
    random_guard: tuple[str, ...] = ()
    seeds: tuple[Fragment, ...] = ()  # global random seeds of imports cells, run first here
    display: tuple[str, ...] = ()  # libraries whose display settings it replays first

    @property
    def user_inputs(self) -> dict[str, str]:
        """The inputs the step function takes (the notebook's names)."""
        return {k: v for k, v in self.inputs.items() if k != RANDOM_STATE}

    @property
    def user_outputs(self) -> tuple[str, ...]:
        return tuple(o for o in self.outputs if o != RANDOM_STATE)

    @property
    def random_from(self) -> str:
        return self.inputs.get(RANDOM_STATE, "")


@dataclass(frozen=True)
class Pipeline:
    name: str  # identifier used for the package and the DAG
    notebook: Notebook
    parameters: tuple[Parameter, ...]
    derived: tuple[Derived, ...]
    steps: tuple[Step, ...]
    requirements: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    split: str
    settings: tuple[Fragment, ...] = ()  # process-wide settings replayed in every step
    common: tuple[Fragment, ...] = ()  # shared definitions -> common.py
    common_imports: tuple[str, ...] = ()
    derive: tuple[Fragment, ...] = ()  # statements computing the derived values
    derive_imports: tuple[str, ...] = ()
    display: tuple[Display, ...] = ()  # display settings, by library
    display_imports: tuple[str, ...] = ()

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)
