"""A section of an expansion kept: its text in place of the draft text it was written from."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.paragraphs import paragraph_spans
from servicekit.errors import Conflict


class SectionNotInDraft(Conflict):
    code, title = "section-not-in-draft", "The draft no longer holds the text this section was written from"


class DraftMovedOn(Conflict):
    code, title = "draft-moved-on", "The section was written from an older version of the draft"


@dataclass(frozen=True)
class Kept:
    """The draft's new content, and where the kept text stands in it."""

    content: str
    start: int
    end: int


def keep(content: str, original: str, written: str, paragraphs: tuple[int, int]) -> Kept:
    """`content` with `original` (a section's draft text, within `paragraphs`) replaced by `written`."""
    spans = paragraph_spans(content)
    first, last = paragraphs
    if not (1 <= first <= last <= len(spans)):
        raise SectionNotInDraft(f"the draft has {len(spans)} paragraphs; the section came from {first}-{last}")
    begin, end = spans[first - 1][0], spans[last - 1][1]
    at = content.find(original, begin, end)
    if not original or at < 0:
        raise SectionNotInDraft("the section's draft text is not in those paragraphs any more")
    text = written.strip()
    return Kept(content=content[:at] + text + content[at + len(original) :], start=at, end=at + len(text))
