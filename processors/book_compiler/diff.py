"""What changed between two compiled versions of a book: chapters and words."""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any


def word_changes(old: str, new: str) -> tuple[int, int]:
    """Words added and removed from `old` to `new` (a word-level diff)."""
    a, b = old.split(), new.split()
    added = removed = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def diff(a: dict[int, tuple[str, str]], b: dict[int, tuple[str, str]]) -> dict[str, Any]:
    """Chapters added, removed and changed from version `a` to `b`, with words added and removed."""
    chapters: list[dict[str, Any]] = []
    for number in sorted(set(a) | set(b)):
        before, after = a.get(number), b.get(number)
        if before == after:
            continue
        added, removed = word_changes(before[1] if before else "", after[1] if after else "")
        change = "added" if before is None else "removed" if after is None else "changed"
        chapters.append(
            {
                "chapter": number,
                "change": change,
                "title": (after or before)[0],  # type: ignore[index]
                "title_changed": bool(before and after and before[0] != after[0]),
                "words_added": added,
                "words_removed": removed,
            }
        )
    return {
        "chapters": chapters,
        "unchanged": len(set(a) & set(b)) - sum(1 for c in chapters if c["change"] == "changed"),
        "words_added": sum(c["words_added"] for c in chapters),
        "words_removed": sum(c["words_removed"] for c in chapters),
    }
