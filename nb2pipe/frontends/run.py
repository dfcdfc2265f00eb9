"""`nb2pipe run DIR|NOTEBOOK`: the fast path that imports neither typer nor the compiler
(only the runtime and nb2pipe.codegen.location) unless a notebook must be converted."""

from __future__ import annotations

import sys
from pathlib import Path

from nb2pipe.codegen.location import load_package


def run_command(
    directory: str | Path | None, args: list[str], *, command: list[str] | None = None
) -> int:
    """`nb2pipe run DIR|NOTEBOOK [options]`: the runtime's exit code (help without a
    folder). A notebook is converted first into a cached package (the compiler is imported
    only then); ``command`` is the command line the run records."""
    from nb2pipe.runtime import build_parser, main

    if directory is None or str(directory) in ("-h", "--help"):
        build_parser(prog="nb2pipe run DIR").print_help()
        return 0 if directory is not None or "--help" in args else 2
    folder = Path(directory)
    if folder.is_file():  # a notebook: its package, converted now or reused
        from nb2pipe.api import cached_package

        given = [a.split("=", 1)[1] for a in args if a.startswith("--runs-dir=")]
        given += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--runs-dir"]
        folder, pipe = cached_package(directory, runs_dir=given[-1] if given else None)
        if pipe is not None:
            for d in pipe.diagnostics:
                if d.severity != "note":
                    print(d, file=sys.stderr)
            print(f"[nb2pipe] converted {directory} into {folder}", file=sys.stderr)
    return main(load_package(folder), args, prog=f"nb2pipe run {directory}", command=command)
