"""Markdown headings as notebooks write them, for the heading split: ATX (``## Title``),
Setext (``Title`` underlined with ``===`` or ``---``, and the rst title sphinx-gallery
writes, overlined too), HTML (``<h2>Title</h2>``), anywhere in a cell that also holds
text. A numbered heading (``## 2. Training``) names its step without the number."""

from __future__ import annotations

import re

ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
HTML = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"<[^>]+>")
NUMBER = re.compile(
    r"^(?:(?:step|part|section)\s+\d+(?:\.\d+)*[.):]?|\d+(?:\.\d+)+[.):]?|\d+[.):])\s+",
    re.IGNORECASE,
)
FENCE = ("```", "~~~")


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", TAG.sub("", text)).strip().strip("*_`").strip()


def parse(markdown: str) -> tuple[list[tuple[int, str]], str]:
    """The headings of a markdown cell, (level, text) in order, and its text without them."""
    found: list[tuple[int, str]] = []
    body: list[str] = []
    lines = markdown.split("\n")
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.lstrip().startswith(FENCE):
            fenced = not fenced
        elif not fenced:
            if m := ATX.fullmatch(line):
                found.append((len(m.group(1)), _plain(m.group(2))))
                i += 1
                continue
            if (
                UNDERLINE.fullmatch(line)
                and line.strip()[0] == "="
                and UNDERLINE.fullmatch(lines[i + 2] if i + 2 < len(lines) else "")
                and nxt.strip()
            ):  # rst title: overline, title, underline
                found.append((1, _plain(nxt)))
                i += 3
                continue
            if line.strip() and UNDERLINE.fullmatch(nxt) and not UNDERLINE.fullmatch(line):
                if not line.lstrip().startswith(("-", "*", "+", ">", "|")):
                    found.append((1 if nxt.strip()[0] == "=" else 2, _plain(line)))
                    i += 2
                    continue
            if m := HTML.search(line):
                found.append((int(m.group(1)), _plain(m.group(2))))
                rest = HTML.sub("", line).strip()
                if rest:
                    body.append(rest)
                i += 1
                continue
        body.append(line)
        i += 1
    return [(lvl, t) for lvl, t in found if t], "\n".join(body).strip()


def step_text(heading: str) -> str:
    """The heading text a step is named after: without its number (``2. Training``)."""
    return NUMBER.sub("", heading) or heading
