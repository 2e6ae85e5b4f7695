"""Compiling a book: which text each chapter takes, counting its words, rendering the exports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.models import ChapterState

EXPANSION_UNAVAILABLE = "text expansion did not answer"
NO_EXPANSION = "no expansion of this chapter yet"
STALE_EXPANSION = "the expansion is of an older draft"
DRAFT_PREFERRED = "the draft was asked for"
AI_LEFT_OUT = "the words the model wrote were left out"
AI_OPEN, AI_CLOSE = "[AI]", "[/AI]"  # plain text around what the model wrote: data in every format


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
    ai: str = "include",
) -> list[CompiledChapterText]:
    """Each chapter in order with its best text: the current expansion when asked for, else the draft.

    `expansions` is None when the expansion store could not be asked; every chapter then says so.
    A chapter whose draft is gone (deleted since the book was read) is left out. `ai`: `omit` takes
    every chapter's draft without the spans the model wrote; `mark` puts `[AI]…[/AI]` around an
    expanded chapter's paragraphs and around a draft's spans.
    """
    compiled = []
    for state in sorted(chapters, key=lambda c: c.chapter):
        draft = drafts.get(state.draft_blob_id)
        if draft is None:
            continue
        expansion_id = state.processed_blob_ids.get(expansion_processor)
        expansion = (expansions or {}).get(expansion_id) if expansion_id else None
        reason: str | None = None
        if ai == "omit":
            reason = AI_LEFT_OUT
        elif prefer == "draft":
            reason = DRAFT_PREFERRED
        elif expansions is None:
            reason = EXPANSION_UNAVAILABLE
        elif expansion is None:
            reason = NO_EXPANSION
        elif expansion.get("source_version") != draft["version"]:
            reason = STALE_EXPANSION
        use_expansion = reason is None and expansion is not None
        if use_expansion and expansion:
            text = str(expansion["data"]["expanded"])
            text = marked_paragraphs(text) if ai == "mark" else text
        else:
            text = with_spans(str(draft["data"]["content"]), draft["data"].get("provenance") or [], ai)
        compiled.append(
            CompiledChapterText(
                chapter=state.chapter,
                title=state.title,
                text=str(text).strip(),
                source="expanded" if use_expansion else "draft",
                draft_blob_id=state.draft_blob_id,
                draft_version=int(draft["version"]),
                expanded_blob_id=expansion_id if use_expansion else None,
                fallback_reason=None if prefer == "draft" and ai != "omit" else reason,
            )
        )
    return compiled


def with_spans(content: str, spans: list[dict[str, Any]], ai: str) -> str:
    """A draft's text with the spans the model wrote left out (`omit`), marked (`mark`), or as it is."""
    if ai == "include" or not spans:
        return content
    out, at = [], 0
    for span in sorted(spans, key=lambda s: int(s["start"])):
        start, end = max(int(span["start"]), at), min(int(span["end"]), len(content))
        if end <= start:
            continue
        out.append(content[at:start])
        out.append(f"{AI_OPEN}{content[start:end]}{AI_CLOSE}" if ai == "mark" else "")
        at = end
    out.append(content[at:])
    return "".join(out)


def marked_paragraphs(text: str) -> str:
    return "\n\n".join(f"{AI_OPEN}{p}{AI_CLOSE}" for p in text.split("\n\n") if p.strip())


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
