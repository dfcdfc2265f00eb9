"""The compiler: a notebook file -> cells (read) -> sections (tags) -> analysed steps
(analysis, hazards) -> the Pipeline model (assemble, lowering). No I/O beyond reading the
notebook, no printing; codegen turns its Pipeline into files.

One entry point: ``compile(path, split_on=..., strict=...) -> Compilation(notebook, layout,
pipeline, diagnostics)``; ``front(path)`` is its first half (read and tag)."""

from nb2pipe.compiler.compilation import Compilation, compile, front

__all__ = ["Compilation", "compile", "front"]
