"""Compiling a book: which text each chapter takes, counting its words, rendering the exports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.models import ChapterState

EXPANSION_UNAVAILABLE = "text expansion did not answer"
NO_EXPANSION = "no expansion of this chapter yet"
STALE_EXPANSION = "the expansion is of an older draft"
DRAFT_PREFERRED = "the draft was asked for"


def count_words(text: str) -> int:
    """Words as the compiled book counts them: runs of non-space characters."""
    return len(text.split())


@dataclass(frozen=True)
class CompiledChapterText:
    chapter: int
    title: str
    text: str
    source: str  # expanded | draft
    draft_blob_id: str
    draft_version: int
    expanded_blob_id: str | None
    fallback_reason: str | None

    @property
    def word_count(self) -> int:
        return count_words(self.text)


def choose_texts(
    chapters: list[ChapterState],
    drafts: dict[str, dict[str, Any]],
    expansions: dict[str, dict[str, Any]] | None,
    *,
    expansion_processor: str,
    prefer: str,
) -> list[CompiledChapterText]:
    """Each chapter in order with its best text: the current expansion when asked for, else the draft.

    `expansions` is None when the expansion store could not be asked; every chapter then says so.
    A chapter whose draft is gone (deleted since the book was read) is left out.
    """
    compiled = []
    for state in sorted(chapters, key=lambda c: c.chapter):
        draft = drafts.get(state.draft_blob_id)
        if draft is None:
            continue
        expansion_id = state.processed_blob_ids.get(expansion_processor)
        expansion = (expansions or {}).get(expansion_id) if expansion_id else None
        reason: str | None = None
        if prefer == "draft":
            reason = DRAFT_PREFERRED
        elif expansions is None:
            reason = EXPANSION_UNAVAILABLE
        elif expansion is None:
            reason = NO_EXPANSION
        elif expansion.get("source_version") != draft["version"]:
            reason = STALE_EXPANSION
        use_expansion = reason is None and expansion is not None
        text = expansion["data"]["expanded"] if use_expansion and expansion else draft["data"]["content"]
        compiled.append(
            CompiledChapterText(
                chapter=state.chapter,
                title=state.title,
                text=str(text).strip(),
                source="expanded" if use_expansion else "draft",
                draft_blob_id=state.draft_blob_id,
                draft_version=int(draft["version"]),
                expanded_blob_id=expansion_id if use_expansion else None,
                fallback_reason=None if prefer == "draft" else reason,
            )
        )
    return compiled


def plain_text(title: str, chapters: list[CompiledChapterText]) -> str:
    parts = [title, ""]
    for chapter in chapters:
        parts += [f"Chapter {chapter.chapter}: {chapter.title}", "", chapter.text, ""]
    return "\n".join(parts).rstrip() + "\n"


def markdown(title: str, chapters: list[CompiledChapterText]) -> str:
    parts = [f"# {title}", ""]
    for chapter in chapters:
        parts += [f"## Chapter {chapter.chapter}: {chapter.title}", "", chapter.text, ""]
    return "\n".join(parts).rstrip() + "\n"
