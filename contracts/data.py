"""Typed views of the blob payloads whose JSON Schemas live in contracts/schemas.

tests/unit/test_contracts.py fails when a schema and its Struct drift apart.
"""

from __future__ import annotations

import msgspec


class TextMetadata(msgspec.Struct, kw_only=True, omit_defaults=True):
    book_id: str | None = None
    chapter: int | None = None
    style: str | None = None  # formal | casual | creative
    title: str | None = None  # not in the schema; carried as an additional property


class Span(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Characters [start, end) of a draft's content that the model wrote and the writer kept."""

    start: int
    end: int
    expansion_id: str
    section_id: str
    model: str | None = None
    instruction: str | None = None


class TextInput(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`text-input-v1`: a chapter draft or any text a writer types."""

    content: str
    metadata: TextMetadata | None = None
    provenance: list[Span] | None = None  # what came from the model; moved with the writer's edits


class TextMetrics(msgspec.Struct, kw_only=True, omit_defaults=True):
    readability_score: float | None = None
    complexity: float | None = None
    tone: str | None = None


class ExpandedText(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`expanded-text-v1`: a draft expanded into fuller prose."""

    original: str
    expanded: str
    expansion_ratio: float
    metrics: TextMetrics | None = None


class CompiledChapter(msgspec.Struct, kw_only=True, omit_defaults=True):
    chapter: int
    title: str
    source: str  # expanded | draft
    word_count: int
    source_blob_id: str
    draft_version: int | None = None
    fallback_reason: str | None = None


class CompiledBook(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`compiled-book-v1`: one version of a book compiled from its chapters (texts are in the exports)."""

    book_id: str
    title: str
    version: int
    chapter_count: int
    word_count: int
    chapters: list[CompiledChapter]
    prefer: str | None = None  # expanded | draft
    fallbacks: int | None = None


class PitchCharacter(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    role: str | None = None
    description: str | None = None


class PitchInput(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`pitch-input-v1`: a writer's pitch notes, section by section."""

    title: str
    logline: str
    genre: str | None = None
    tone: str | None = None  # literary | commercial | playful | dark
    synopsis: str | None = None
    characters: list[PitchCharacter] | None = None
    audience: str | None = None
    comparables: list[str] | None = None
    book_id: str | None = None  # the book whose newest compile gives the pitch its length
    author_name: str | None = None
    author_bio: str | None = None
    word_count: int | None = None  # the manuscript's length, for notes linked to no book


class CodexEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`codex-entry-v1`: a story-bible entry. No `book_id`: every book of the user (a series);
    `from_chapter`: it applies from that chapter on (a later entry of the same name replaces it)."""

    name: str
    kind: str  # character | place | object | lore | other
    aliases: list[str] | None = None
    description: str | None = None
    always_include: bool | None = None
    book_id: str | None = None
    from_chapter: int | None = None


class PitchSection(msgspec.Struct, kw_only=True):
    key: str
    heading: str
    body: str


class PitchManuscript(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The length a pitch states: from a compile of the linked book, or from the notes."""

    words: int
    book_id: str | None = None
    version: int | None = None


class PitchStale(msgspec.Struct, kw_only=True):
    """A newer compile of the linked book has another length than the pitch states."""

    book_version: int
    words: int


class Pitch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`pitch-v1`: a structured pitch and its one-page Markdown rendering."""

    title: str
    logline: str
    sections: list[PitchSection]
    one_pager: str
    word_count: int  # of the one-pager
    genre: str | None = None
    tone: str | None = None
    comparables: list[str] | None = None
    author_name: str | None = None
    author_bio: str | None = None
    manuscript: PitchManuscript | None = None
    stale: PitchStale | None = None


# schema id -> the Struct that reads it; the drift test walks this table.
PAYLOADS: dict[str, type[msgspec.Struct]] = {
    "text-input-v1": TextInput,
    "expanded-text-v1": ExpandedText,
    "compiled-book-v1": CompiledBook,
    "pitch-input-v1": PitchInput,
    "pitch-v1": Pitch,
    "codex-entry-v1": CodexEntry,
}

# Properties a Struct carries beyond its schema (allowed there as additional properties).
EXTRA_FIELDS: dict[type[msgspec.Struct], frozenset[str]] = {TextMetadata: frozenset({"title"})}
