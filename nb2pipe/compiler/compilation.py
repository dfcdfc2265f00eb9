"""The compiler's one entry point: ``compile(path) -> Compilation``.

The passes, each a function of the value before it (nbconvert's habit)::

    notebook.read -> Notebook -> tags.assign -> Layout -> analysis.analyze -> Analysis
        -> hazards.check -> display.split -> Analysis -> assemble (lowering) -> Pipeline
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nb2pipe.compiler import analysis, assemble, display, hazards, notebook, tags
from nb2pipe.compiler.model import Diagnostic, Layout, Notebook, Pipeline
from nb2pipe.errors import AnalysisError, StrictError

Source = str | os.PathLike[str] | Notebook | Layout


@dataclass(frozen=True)
class Compilation:
    notebook: Notebook
    layout: Layout  # every cell's role and step
    pipeline: Pipeline
    diagnostics: tuple[Diagnostic, ...]  # the pipeline's: warnings and notes, in order


def front(source: str | os.PathLike[str] | Notebook, *, split_on: str | None = None) -> Layout:
    """Read (unless given a Notebook) and tag: every cell's role and step."""
    nb = source if isinstance(source, Notebook) else notebook.read(source)
    return tags.assign(nb, split_on=split_on)


def compile(source: Source, *, split_on: str | None = None, strict: bool = False) -> Compilation:
    """Compile a notebook: a path, a Notebook already read, or the Layout ``front`` made
    (``split_on`` then is the Layout's). ``strict``: the first warning is an error."""
    layout = source if isinstance(source, Layout) else front(source, split_on=split_on)
    try:
        analysed = display.split(hazards.check(analysis.analyze(layout)))
        pipeline = assemble.assemble(analysed)
    except RecursionError:
        raise AnalysisError(
            "the code is nested too deeply to analyse",
            file=layout.notebook.path,
            hint="split the deepest expression into several statements",
        ) from None
    if strict:
        first = next((d for d in pipeline.diagnostics if d.severity == "warning"), None)
        if first is not None:
            raise StrictError(
                f"--strict: {first.message}",
                file=layout.notebook.path,
                cell=first.cell,
                line=first.line,
            )
    return Compilation(layout.notebook, layout, pipeline, pipeline.diagnostics)
