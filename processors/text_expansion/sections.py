"""A draft cut into sections that can be expanded at the same time, each knowing its neighbours."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from contracts.paragraphs import PARAGRAPH_BREAK

from .style import sentences, words

CONTEXT_WORDS = 40


@dataclass(frozen=True)
class Section:
    """One part of a draft: its text, and the end of the part before and the start of the one after."""

    index: int
    text: str
    before: str = ""
    after: str = ""
    paragraph: int = 1  # the draft's paragraph it is part of (from 1); a long paragraph makes several sections
    notes: tuple[str, ...] = ()  # the story-bible entries its prompt carries, as the prompt says them
    instruction: str = ""  # the writer's, when they asked for it to be written again ("more dialogue")

    def key(self, model: str, style: str, used: str = "") -> str:
        """What its expansion depends on: the model, the style, its own text (not its neighbours'),
        and `used`, the story-bible entries (ids and versions) its prompt carries."""
        made_from = f"{model}\0{style}\0{self.text}" + (f"\0{used}" if used else "")  # no entries: keys as before
        return hashlib.sha256(made_from.encode()).hexdigest()[:24]


def split(text: str, max_words: int) -> list[Section]:
    """Paragraphs, and paragraphs longer than `max_words` as groups of whole sentences."""
    parts: list[str] = []
    origins: list[int] = []
    number = 0
    for paragraph in (p.strip() for p in PARAGRAPH_BREAK.split(text)):
        if not paragraph:
            continue
        number += 1
        if len(words(paragraph)) <= max_words:
            parts.append(paragraph)
            origins.append(number)
            continue
        group: list[str] = []
        count = 0
        for sentence in sentences(paragraph) or [paragraph]:
            size = len(words(sentence))
            if group and count + size > max_words:
                parts.append(" ".join(group))
                origins.append(number)
                group, count = [], 0
            group.append(sentence)
            count += size
        if group:
            parts.append(" ".join(group))
            origins.append(number)
    if not parts:
        parts, origins = [text.strip()], [1]
    return [
        Section(
            index=i,
            text=part,
            before=last_words(parts[i - 1]) if i > 0 else "",
            after=first_words(parts[i + 1]) if i + 1 < len(parts) else "",
            paragraph=origins[i],
        )
        for i, part in enumerate(parts)
    ]


def stitch(texts: list[str]) -> str:
    """The sections' texts in order, a blank line between them (as a client joins the deltas)."""
    return "\n\n".join(t.strip() for t in texts)


def first_words(text: str) -> str:
    cut = text.split()
    return " ".join(cut[:CONTEXT_WORDS]) + (" ..." if len(cut) > CONTEXT_WORDS else "")


def last_words(text: str) -> str:
    cut = text.split()
    return ("... " if len(cut) > CONTEXT_WORDS else "") + " ".join(cut[-CONTEXT_WORDS:])
