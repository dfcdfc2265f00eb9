"""The shared table of tag cases (tests/data/tag_cases.json) through the compiler's tag pass.

The Lab's TypeScript copy of the parser runs the same table
(jupyterlab/src/__tests__/tagcases.spec.ts): the two read a cell's tags alike.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nb2pipe.compiler import tagcheck
from nb2pipe.compiler import tags as tag_pass
from nb2pipe.compiler.model import Cell
from nb2pipe.errors import TagError

TABLE = Path(__file__).resolve().parents[1] / "data" / "tag_cases.json"
CASES = json.loads(TABLE.read_text(encoding="utf-8"))["cases"]
INPUT = ("why", "tags", "source")


def parse(tags: list[str], source: str) -> dict:
    """A cell's parse as the table writes it (empty fields left out), or its error."""
    diags: list = []
    try:
        t = tag_pass._parse(Cell(1, "code", source, tuple(tags)), "nb.ipynb", diags)
    except TagError as exc:
        return {"error": exc.message, "hint": exc.hint}
    unknown = [tag for tag in t.foreign if not tagcheck.is_foreign(tag)]
    assert len([d for d in diags if d.code == "unknown-tag"]) == len(unknown)
    got = {
        "role": tag_pass._role(t) or ("step" if t.steps else None),
        "roles": t.roles,
        "step": t.steps[0] if t.steps else None,
        "after": t.after,
        "models": t.models,
        "foreign": t.foreign,
        "unknown": unknown,
    }
    return {k: v for k, v in got.items() if v}


def _id(case: dict) -> str:
    text = " ".join(case["tags"]) + (" | " + case["source"] if "source" in case else "")
    return re.sub(r"\s+", " ", text)[:60] or "-"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_tag_case(case: dict):
    expected = {k: v for k, v in case.items() if k not in INPUT}
    assert parse(case["tags"], case.get("source", "x = 1")) == expected, case["why"]


def test_the_table_covers_every_word_of_the_tag_language():
    """A tag word added to the language without a case in the table fails here."""
    used = {
        t.strip().lower().split(":")[0]
        for c in CASES
        for t in c["tags"] + tag_pass.directive_words(c.get("source", ""))
    }
    words = set(tagcheck.ROLE_WORDS) | set(tagcheck.PREFIX_WORDS)
    words |= {p.rstrip(":") for p in tagcheck.FOREIGN_PREFIXES[:2]}  # Kale's limit:, image:
    assert words <= used, sorted(words - used)
