"""Which story-bible entries go into a section's prompt, chosen by rule, with a receipt for each.

The rule, in this order:
1. An entry applies to a chapter from its `from_chapter` on; of entries sharing a name, the one
   with the latest `from_chapter` not past the chapter applies (a character who changes at
   chapter 12 has a second entry from 12).
2. Every `always_include` entry is chosen, by name.
3. Every entry whose name or an alias appears in the section or its neighbouring paragraphs is
   chosen, in the order of its first appearance (paragraph, then position), ties by name.
   Matching is whole-word and ignores case and accents, in any script; in a script written
   without spaces between words (Chinese, Japanese, Thai...) a name matches wherever it stands.
4. Entries are taken in that order while their tokens fit the budget; one that does not fit is
   left out (and said so by its absence from the receipt), and smaller ones after it may still fit.

Nothing is chosen by chance: the same section, entries and budget give the same receipt.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Scripts written without spaces between words: a name inside a run of them matches anywhere.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
CHARS_PER_TOKEN = 4  # the usual estimate for English prose; the receipt says what each entry cost


@dataclass(frozen=True)
class Entry:
    """A story-bible entry as the rule reads it."""

    id: str
    version: int
    name: str
    kind: str = "other"
    description: str = ""
    aliases: tuple[str, ...] = ()
    always_include: bool = False
    from_chapter: int | None = None

    def prompt(self) -> str:
        """What the entry adds to a prompt."""
        also = f" (also: {', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.name}{also}, {self.kind}: {self.description}".strip()

    @property
    def tokens(self) -> int:
        return max(1, math.ceil(len(self.prompt()) / CHARS_PER_TOKEN))


def entry_of(blob_id: str, version: int, data: Mapping[str, Any]) -> Entry | None:
    """A `codex-entry-v1` blob's data as the rule reads it; None if it has no name."""
    name = str(data.get("name") or "").strip()
    if not name:
        return None
    aliases = data.get("aliases") or []
    start = data.get("from_chapter")
    return Entry(
        id=blob_id,
        version=version,
        name=name,
        kind=str(data.get("kind") or "other"),
        description=str(data.get("description") or ""),
        aliases=tuple(str(a) for a in aliases if isinstance(a, str) and a.strip()),
        always_include=bool(data.get("always_include")),
        from_chapter=start if isinstance(start, int) else None,
    )


@dataclass(frozen=True)
class Used:
    """One line of a receipt: the entry (id and version), why it was chosen, what it cost."""

    entry_id: str
    entry_version: int
    name: str
    why: str  # "always", or "matched 'Mara' in paragraph 2"
    tokens: int


def folded(text: str) -> str:
    """`text` without case or accents: what names are compared as."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def applicable(entries: Iterable[Entry], chapter: int | None) -> list[Entry]:
    """The entries that apply at `chapter` (rule 1)."""
    latest: dict[str, Entry] = {}
    for entry in entries:
        start = entry.from_chapter or 1
        if chapter is not None and start > chapter:
            continue
        key = folded(entry.name)
        held = latest.get(key)
        if held is None or (held.from_chapter or 1) < start:
            latest[key] = entry
    return sorted(latest.values(), key=lambda e: (folded(e.name), e.id))


class Codex:
    """A user's entries for one book, ready to be matched against many sections."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        self._names: dict[str, list[tuple[Entry, str]]] = {}  # folded name or alias -> (entry, as written)
        for entry in self.entries:
            for written in (entry.name, *entry.aliases):
                if written.strip():
                    self._names.setdefault(folded(written.strip()), []).append((entry, written.strip()))
        # One pass per paragraph: every name and alias at once, the longest first.
        names = sorted(self._names, key=lambda n: (-len(n), n))
        self._pattern = re.compile("|".join(re.escape(n) for n in names)) if names else None

    def matches(self, paragraphs: Sequence[tuple[int, str]]) -> list[tuple[Entry, str, int, int]]:
        """(entry, name as written, paragraph number, position) of each name found, in reading order."""
        found: list[tuple[Entry, str, int, int]] = []
        if self._pattern is None:
            return found
        for number, text in paragraphs:
            plain = folded(text)
            at = 0
            while (hit := self._pattern.search(plain, at)) is not None:
                start, end = hit.span()
                at = start + 1
                if not _whole(plain, start, end):
                    continue
                for entry, written in self._names[hit.group()]:
                    found.append((entry, written, number, start))
                at = end
        return found

    def chosen(
        self, paragraphs: Sequence[tuple[int, str]], *, chapter: int | None, budget: int
    ) -> list[tuple[Used, str]]:
        """`choose`'s receipt, each line with what the entry adds to the prompt."""
        by_id = {e.id: e for e in self.entries}
        return [
            (used, by_id[used.entry_id].prompt()) for used in self.choose(paragraphs, chapter=chapter, budget=budget)
        ]

    def uses(self, paragraphs: Sequence[tuple[int, str]], entry: Entry, *, chapter: int | None) -> bool:
        """Whether `entry` applies at `chapter` and is always included or named in `paragraphs`."""
        if entry not in applicable(self.entries, chapter):
            return False
        return entry.always_include or any(found is entry for found, *_ in self.matches(paragraphs))

    def choose(self, paragraphs: Sequence[tuple[int, str]], *, chapter: int | None, budget: int) -> list[Used]:
        """The receipt for a section: the entries its prompt gets (rules 1-4), in order."""
        applying = applicable(self.entries, chapter)
        live = {e.id for e in applying}
        ordered: list[tuple[Entry, str]] = [(e, "always") for e in applying if e.always_include]
        first: dict[str, tuple[int, int, str, Entry, str]] = {}
        for entry, written, number, position in self.matches(paragraphs):
            if entry.id not in live or entry.always_include:
                continue
            seen = first.get(entry.id)
            if seen is None or (number, position) < (seen[0], seen[1]):
                first[entry.id] = (number, position, folded(entry.name), entry, written)
        for number, _, _, entry, written in sorted(first.values(), key=lambda m: (m[0], m[1], m[2])):
            ordered.append((entry, f"matched {written!r} in paragraph {number}"))
        receipt: list[Used] = []
        spent = 0
        for entry, why in ordered:
            if spent + entry.tokens > budget:
                continue
            spent += entry.tokens
            receipt.append(Used(entry.id, entry.version, entry.name, why, entry.tokens))
        return receipt


def _whole(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] stands as a word: no letter or digit joined to it on either side,
    unless the name is in a script written without spaces."""
    name = text[start:end]
    if _UNSPACED.search(name):
        return True
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")
