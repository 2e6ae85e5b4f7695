"""How a draft is cut into paragraphs, numbered from 1: text expansion writes its sections from
them (`sections[].source.paragraphs`), and keeping a section puts its text back into them."""

from __future__ import annotations

import re

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def paragraph_spans(content: str) -> list[tuple[int, int]]:
    """[start, end) of each paragraph that is not blank, without its surrounding whitespace."""
    found = []
    at = 0
    for piece in PARAGRAPH_BREAK.split(content):
        begin = content.index(piece, at)
        at = begin + len(piece)
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            found.append((begin + lead, begin + lead + len(stripped)))
    return found
