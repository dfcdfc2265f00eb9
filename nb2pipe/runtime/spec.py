"""The declarative DAG that a generated ``pipeline.py`` builds.

These classes are the contract between the code generator, the runner, the exporters and
``nb2pipe graph``: everything about a pipeline's shape is read from here, nothing is
repeated elsewhere. Keep this module free of heavy imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Bumped when the contract between generated packages and the runtime changes.
SPEC_VERSION = 1


@dataclass(frozen=True)
class Param:
    """A pipeline parameter: ``Param("n_estimators", int, 100, help="trees")``."""

    name: str
    type: type | None  # int, float, bool, str, list, dict, tuple; None: any
    default: Any = None
    help: str = ""
    optional: bool = False  # None is an accepted value
    secret: bool = False  # read from the environment variable `env`, never recorded
    env: str | None = None


@dataclass(frozen=True)
class Step:
    """One step: ``steps/<name>.py`` defines a function ``<name>`` of the same name."""

    name: str
    inputs: Mapping[str, str] = field(default_factory=dict)  # variable -> producing step
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # parameters and derived values passed as keywords
    after: tuple[str, ...] = ()  # ordering edges that carry no data (after: tags, gates)
    cells: tuple[int, ...] = ()
    kind: str = "step"  # "step" or "gate"
    metrics: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # "NAME=VARIABLE" (or "NAME": the output NAME) per model:NAME
    distributions: tuple[str, ...] = ()  # imported distributions (their versions key the cache)
    files: tuple[str, ...] = ()  # files the step reads, relative to the working directory
    common: tuple[str, ...] = ()  # shared definitions from common.py the step uses
    tags: tuple[str, ...] = ()  # other tools' tags (Kale's limit:, image:, ...)
    doc: str = ""
    function: str = ""  # the function's name in steps/<name>.py when it differs from the step's
    directions: Mapping[str, str] = field(default_factory=dict)  # declared: metric -> higher|lower
    primary: str = ""  # the metric marked `# primary` (the champion policy's), if any
    # The seeded global random streams ("numpy", "random") this step draws from: set from
    # its `__random_state__` input before it runs, captured into that output after (see
    # nb2pipe.runtime.randomstate). `random_guard`: seeded streams it must leave alone.
    random: tuple[str, ...] = ()
    random_guard: tuple[str, ...] = ()

    @property
    def upstream(self) -> tuple[str, ...]:
        seen = dict.fromkeys(self.inputs.values())
        seen.update(dict.fromkeys(self.after))
        return tuple(seen)


@dataclass(frozen=True)
class Edge:
    """An edge of the DAG: the variables ``src`` hands to ``dst``; () for an ordering edge
    (an after: tag, a gate)."""

    src: str
    dst: str
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    name: str
    package: str  # import path of the generated package, e.g. "pipelines.wine"
    steps: tuple[Step, ...]
    parameters: tuple[Param, ...] = ()
    derived: tuple[str, ...] = ()  # names computed by `derive` from the parameters
    derive: Callable[..., dict[str, Any]] | None = None
    notebook: str = ""  # path of the source notebook, relative to the package folder
    notebook_sha256: str = ""
    workdir: str = "."  # where steps run (the notebook's folder), relative to the package
    generated_by: str = ""  # nb2pipe version that generated the package
    spec_version: int = SPEC_VERSION

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def function(self, name: str) -> Callable[..., dict[str, Any]]:
        """Import the step's module lazily and return its function."""
        module = importlib.import_module(f"{self.package}.steps.{name}")
        return getattr(module, self.step(name).function or name)

    @property
    def param_map(self) -> dict[str, Param]:
        return {p.name: p for p in self.parameters}

    @property
    def edges(self) -> tuple[Edge, ...]:
        """Data edges grouped by producer (in first-read order), then ordering-only edges:
        what every drawing of the DAG (the README's, ``nb2pipe graph``'s) shows."""
        out: list[Edge] = []
        for s in self.steps:
            by_src: dict[str, list[str]] = {}
            for var, src in s.inputs.items():
                by_src.setdefault(src, []).append(var)
            out += [Edge(src, s.name, tuple(names)) for src, names in by_src.items()]
            out += [Edge(a, s.name) for a in dict.fromkeys(s.after) if a not in by_src]
        return tuple(out)
