"""The compiler: a notebook file -> cells (read) -> sections (tags) -> analysed steps
(analysis, hazards) -> the Pipeline model (assemble, lowering). No I/O beyond reading the
notebook, no printing; codegen turns its Pipeline into files."""
