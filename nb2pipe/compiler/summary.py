"""The machine view of a Pipeline: what `nb2pipe inspect --json`, `%nb2pipe inspect` and the
Lab panel show (the table is the CLI's, nb2pipe.frontends.cli.inspect_view)."""

from __future__ import annotations

import json
from typing import Any

from nb2pipe.compiler.model import Pipeline

GUARD_POLICY = (
    "Unknown method calls on a step's inputs are assumed not to change them; the runtime "
    "guard fails a step that does (--allow-mutation makes it a warning)."
)


def inspect_data(pipe: Pipeline) -> dict[str, Any]:
    return {
        "name": pipe.name,
        "notebook": pipe.notebook.path,
        "split": pipe.split,
        "steps": [
            {
                "name": s.name,
                "kind": s.kind,
                "cells": list(s.cells),
                "inputs": dict(s.inputs),
                "outputs": list(s.outputs),
                "params": list(s.params),
                "after": list(s.after),
                "metrics": list(s.metrics),
                "mutates": list(s.mutates),
                "doc": s.doc,
            }
            for s in pipe.steps
        ],
        "parameters": [
            {
                "name": p.name,
                "type": p.type,
                "optional": p.optional,
                "default": None if p.secret else p.default,
                "help": p.help,
                "secret": p.secret,
                "env": p.env,
                "cell": p.cell,
            }
            for p in pipe.parameters
        ],
        "derived": [{"name": d.name, "cell": d.cell} for d in pipe.derived],
        "requirements": list(pipe.requirements),
        "diagnostics": [
            {"severity": d.severity, "message": d.message, "cell": d.cell, "line": d.line}
            for d in pipe.diagnostics
        ],
        "guard_policy": GUARD_POLICY,
    }


def inspect_json(pipe: Pipeline) -> str:
    return json.dumps(inspect_data(pipe), indent=2, default=repr)
