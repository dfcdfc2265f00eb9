"""The analysis as a value: what the analyser found, frozen, for the passes after it.

``analysis.analyze(layout)`` returns an :class:`Analysis`; ``hazards.check`` returns a new
one (with the random plan, unstorable values and its diagnostics); ``assemble`` and
``lowering`` read it and build the Pipeline model. No pass changes a value it is given.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, NoReturn

from nb2pipe.compiler.model import (
    CellPlan,
    Derived,
    Diagnostic,
    Display,
    Fragment,
    Layout,
    Notebook,
    Parameter,
)
from nb2pipe.compiler.scopes import Facts, FuncInfo
from nb2pipe.errors import AnalysisError


def frozen_map(items: Mapping[Any, Any] | Iterable[tuple[Any, Any]]) -> Mapping[Any, Any]:
    """A read-only copy of a dict (insertion order kept)."""
    return MappingProxyType(dict(items))


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class PreparedCell:
    plan: CellPlan
    source: str  # after magics
    tree: ast.Module
    requirements: tuple[str, ...]
    uses_subprocess: bool


@dataclass(frozen=True)
class ImportLine:
    name: str  # the bound name
    text: str  # a one-name import statement
    module: str  # top-level module, for requirements
    cell: int
    star: bool = False
    relative: bool = False
    seq: int = 0  # position among the notebook's import statements


@dataclass(frozen=True)
class StepAnalysis:
    """One step as the analyser left it: its cells and what its code does with names."""

    name: str
    kind: str  # "step" or "gate"
    cells: tuple[PreparedCell, ...]
    facts: Facts  # the walker's record of the step's top-level code (read only)
    inputs: Mapping[str, str]  # variable -> producing step, in first-read order
    params: tuple[str, ...]
    imports: frozenset[str]  # imported names the step's code uses
    common: frozenset[str]
    uses_steps: Mapping[str, tuple[str, ...]]
    hoisted: frozenset[str]
    metric_decls: tuple[tuple[str, int, int], ...]
    dropped: frozenset[int]  # id() of statements not in the body
    after: tuple[str, ...]
    extra_imports: frozenset[str]
    defs: Mapping[str, ast.stmt]
    aliases: Mapping[str, frozenset[str]]  # at the step's end


@dataclass(frozen=True)
class RandomPlan:
    """The chain of steps carrying the seeded global random streams (randomness.plan)."""

    chain: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)  # step -> streams
    guard: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    source: Mapping[str, str] = field(default_factory=_empty)  # step -> previous chain step
    carries: frozenset[str] = frozenset()  # steps a later chain step reads from
    seeds: Mapping[str, tuple[Fragment, ...]] = field(default_factory=_empty)  # at step start


#: step -> name -> (what, fix, cell, line) of values pickle cannot store
Unstorable = Mapping[str, Mapping[str, tuple[str, str, int, int]]]


@dataclass(frozen=True)
class Analysis:
    layout: Layout
    cells: Mapping[int, PreparedCell]
    works: Mapping[str, StepAnalysis]  # in step order
    funcs: Mapping[str, FuncInfo]
    origin: Mapping[str, tuple[str, str]]  # name -> (kind, step) at the notebook's end
    pool: Mapping[str, ImportLine]
    stars: tuple[ImportLine, ...]
    qualified: Mapping[str, str]  # imported name -> what it names (np -> numpy)
    parameters: tuple[Parameter, ...]
    derived: tuple[Derived, ...]
    derive_frags: tuple[Fragment, ...]
    settings: tuple[Fragment, ...]  # process-wide settings replayed in every step
    seeds: tuple[tuple[Fragment, frozenset[str]], ...]  # global random seeds: carried
    common: tuple[Fragment, ...]
    common_names: frozenset[str]
    common_funcs: Mapping[str, FuncInfo]
    common_reads: frozenset[str]  # names the shared code reads at module level
    requirements: frozenset[str]
    diagnostics: tuple[Diagnostic, ...]
    random: RandomPlan = field(default_factory=RandomPlan)  # hazards.check
    unstorable: Unstorable = field(default_factory=_empty)  # hazards.check
    display: tuple[Display, ...] = ()  # display.split: settings that change no result

    @property
    def notebook(self) -> Notebook:
        return self.layout.notebook

    @property
    def file(self) -> str:
        return self.layout.notebook.path

    def error(
        self, message: str, cell: int | None, line: int | None, hint: str | None = None
    ) -> NoReturn:
        raise AnalysisError(message, file=self.file, cell=cell, line=line, hint=hint)

    def adding(self, diagnostics: Iterable[Diagnostic], **changes: Any) -> Analysis:
        """A copy with these diagnostics appended (and fields changed)."""
        return replace(self, diagnostics=self.diagnostics + tuple(diagnostics), **changes)


class Log(list[Diagnostic]):
    """The diagnostics a pass finds, in order (the pass returns them with its value)."""

    def warn(self, message: str, cell: int | None = None, line: int | None = None, code: str = ""):
        self.append(Diagnostic("warning", message, cell, line, code))

    def note(self, message: str, cell: int | None = None, line: int | None = None, code: str = ""):
        self.append(Diagnostic("note", message, cell, line, code))
