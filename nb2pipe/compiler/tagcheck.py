"""Typos in tags and directives are never silent (the tag language's spell checker).

* A tag that is a near-miss of one of nb2pipe's (``skpi``, ``validation``, ``paramters``,
  ``setp:train``) is an error that says what it probably meant.
* Tags of other tools (jupyter-book's ``remove-cell`` and ``hide-input``, papermill's,
  Kale's ``limit:``/``image:``, nbval's, nbsphinx's, jupytext's ...) pass silently; any other
  tag passes with a note (``nb2pipe inspect`` lists it).
* A comment line that looks like a directive but does not parse (``# nb2pipe: skip``
  without the ``|``, ``#| nb2pipe step:a`` without the colon, a directive below the first
  line) is an error naming the form that works; so is a word in a directive that is not
  nb2pipe's.

Nothing here reads code: the compiler's tag pass (:mod:`nb2pipe.compiler.tags`) calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ROLE_WORDS = (
    "parameters",
    "pipeline-parameters",
    "imports",
    "functions",
    "skip",
    "metrics",
    "pipeline-metrics",
    "validate",
    "injected-parameters",
)
PREFIX_WORDS = ("step", "block", "after", "prev", "model")

#: Tags other tools define: kept for exporters that understand them, otherwise ignored.
FOREIGN_TAGS = frozenset(
    # jupyter-book / MyST-NB and nbconvert's TagRemovePreprocessor conventions
    "remove-cell remove-input remove-output remove-stderr remove-stdout remove_cell "
    "remove_input remove_output remove_all_outputs hide-cell hide-input hide-output "
    "hide_cell hide_input hide_output hide_code hide raises-exception skip-execution "
    "full-width margin output_scroll scroll-output scroll-input thebe-init dropdown popout "
    "toggle "
    # nbval, nbsphinx, jupytext, testbook-style runners
    "nbval-ignore-output nbval-check-output nbval-raises-exception nbval-skip "
    "nbval-sanitize nbsphinx-hidden nbsphinx-thumbnail nbsphinx-gallery nbsphinx-toctree "
    "active-ipynb active-py active-md active-r active-sh".split()
)
FOREIGN_PREFIXES = ("limit:", "image:", "annotation:", "label:", "volume:")  # Kale's

_LOOKS_LIKE_DIRECTIVE = re.compile(
    r"^\s*#\s*(\|\s*)?nb2pipe\b\s*(?P<colon>:)?(?P<rest>.*)$", re.IGNORECASE
)
_EXACT = re.compile(r"^\s*#\|\s*nb2pipe:(.*)$")


def is_foreign(tag: str) -> bool:
    low = tag.strip().lower()
    return low in FOREIGN_TAGS or low.startswith(FOREIGN_PREFIXES)


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


_ENDINGS = {"", "s", "e", "d", "ed", "es", "ing", "ion", "ions", "ped", "ping"}
_ALIASES = {"params": "parameters", "param": "parameters", "parms": "parameters"}


def _closest(word: str, options: tuple[str, ...]) -> str | None:
    """The option ``word`` is probably a typo of: one edit away (two for long words), or
    a prefix of it of four letters or more (``param``, ``valid``), or it with an ending
    (``validation``, ``skipped``; not ``important``)."""
    best: tuple[int, str] | None = None
    for option in options:
        d = _distance(word, option)
        near = d <= (2 if len(option) >= 8 else 1)
        stem = option[:-1] if len(option) > 4 else option
        near = near or (len(word) >= 4 and option.startswith(word))
        near = near or (word.startswith(stem) and word[len(stem) :] in _ENDINGS)
        if near and word != option and (best is None or d < best[0]):
            best = (d, option)
    return best[1] if best else None


def near_miss(tag: str) -> str | None:
    """The nb2pipe tag ``tag`` probably meant, or None."""
    head, sep, rest = tag.strip().lower().partition(":")
    if not sep:
        if head in PREFIX_WORDS:
            return f"{head}:NAME"  # the word without its name
        word = _closest(head, PREFIX_WORDS)
        if word is not None and len(head) <= len(word) + 1:
            return f"{word}:NAME"
        return _ALIASES.get(head) or _closest(head, ROLE_WORDS)
    word = _closest(head, PREFIX_WORDS)
    return f"{word}:{rest.strip()}" if word else None


def directive_problem(source: str) -> tuple[int, str, str] | None:
    """(line, message, hint) for a comment line that looks like a directive and is not
    one nb2pipe reads: a first line ``#| nb2pipe: WORDS`` is the only form."""
    for number, line in enumerate(source.split("\n"), start=1):
        m = _LOOKS_LIKE_DIRECTIVE.fullmatch(line)
        if m is None:
            continue
        words = m.group("rest").strip().lstrip(":=").strip()
        fixed = f"#| nb2pipe: {words or 'WORDS'}"
        exact = _EXACT.fullmatch(line)
        if exact is not None and number > 1:
            return number, "an nb2pipe directive must be the cell's first line", "move it up"
        if exact is not None and not exact.group(1).strip():
            return number, "the directive names no tag", "e.g. `#| nb2pipe: step:train`"
        if exact is None and (m.group(1) is not None or m.group("colon") is not None):
            return number, f"{line.strip()!r} is not a directive", f"did you mean `{fixed}`?"
    return None


def name_suggestion(raw: str, prefix: str, fallback: str) -> str:
    """``model:my model`` -> ``model:my_model``: the name made an identifier."""
    from nb2pipe.compiler.tags import identifier

    return f"{prefix}{identifier(raw, fallback)}"


def undefined_hint(name: str, known: Iterable[str], fallback: str) -> str:
    """For an undefined name: "did you mean X?" from the names defined before it (cells
    above, imports, parameters, builtins), else ``fallback``."""
    import difflib

    close = difflib.get_close_matches(name, sorted(set(known) - {name}), 1, 0.75)
    return f"did you mean {close[0]!r}? otherwise {fallback}" if close else fallback
