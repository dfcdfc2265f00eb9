"""The compiler's Pipeline as the runtime's (nb2pipe.runtime.spec): the one mapping from
the compiler's model to the DAG every consumer reads. The generated ``pipeline.py`` writes
out these steps; the README's Mermaid and ``nb2pipe graph NOTEBOOK`` draw them."""

from __future__ import annotations

import builtins
from collections.abc import Mapping

from nb2pipe import __version__
from nb2pipe.codegen import render
from nb2pipe.compiler.model import Parameter
from nb2pipe.compiler.model import Pipeline as Model
from nb2pipe.compiler.model import Step as ModelStep
from nb2pipe.runtime.spec import Param, Pipeline, Step

RUNTIME_TYPES = {"int", "float", "bool", "str", "list", "dict", "tuple"}


def to_spec(
    pipe: Model,
    *,
    package: str = "",
    functions: Mapping[str, str] | None = None,
    notebook: str = "",
    notebook_sha256: str = "",
    workdir: str = ".",
) -> Pipeline:
    """The runtime Pipeline of a compiled notebook. ``functions``: step -> the name of its
    function when codegen had to rename it; the rest is what ``pipeline.py`` records."""
    return Pipeline(
        name=pipe.name,
        package=package,
        steps=tuple(step(s, (functions or {}).get(s.name, s.name)) for s in pipe.steps),
        parameters=tuple(param(p) for p in pipe.parameters),
        derived=tuple(d.name for d in pipe.derived),
        notebook=notebook,
        notebook_sha256=notebook_sha256,
        workdir=workdir,
        generated_by=__version__,
    )


def step(s: ModelStep, function: str = "") -> Step:
    return Step(
        s.name,
        kind=s.kind,
        function=function if function and function != s.name else "",
        inputs=dict(s.inputs),
        outputs=tuple(s.outputs),
        params=tuple(s.params),
        after=tuple(s.after),
        metrics=tuple(s.metrics),
        random=tuple(s.random),
        random_guard=tuple(s.random_guard),
        directions=dict(s.directions),
        primary=s.primary,
        models=tuple(s.models),
        cells=tuple(s.cells),
        distributions=tuple(s.distributions),
        files=tuple(s.files),
        common=tuple(s.uses_common),
        tags=tuple(s.foreign_tags),
        doc=render.comment(s.doc),
    )


def param(p: Parameter) -> Param:
    """The runtime's Param: a secret has no default (it is read from ``env``)."""
    ptype = getattr(builtins, p.type) if p.type in RUNTIME_TYPES else None
    default = None if p.secret else p.default
    return Param(p.name, ptype, default, p.help, p.optional, p.secret, p.env)
