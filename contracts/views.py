"""What the gateway answers with when it gathers pieces from several stores."""

from __future__ import annotations

from typing import Any

import msgspec

# Status of a piece of an aggregated view.
OK = "ok"
PENDING = "pending"  # the index knows the parent, no derived blob yet
STALE = "stale"  # made from an older version of its parent
MISSING = "missing"  # the index points at it, its store says 404
UNAVAILABLE = "unavailable"  # its store timed out, failed, or its circuit is open
FAILED = "failed"  # its processor gave up on it (a dead letter); `reason` says why
RETIRED = "retired"  # its processor was deactivated by an operator: nothing more will come of it


class SourceStatus(msgspec.Struct, kw_only=True):
    status: str
    ms: float
    count: int


class ViewError(msgspec.Struct, kw_only=True, omit_defaults=True):
    source: str
    status: str
    detail: str
    ids: list[str] = []


class BookRef(msgspec.Struct, kw_only=True):
    id: str
    title: str
    description: str | None = None
    words: int = 0
    ai_words: int = 0  # the chapters' words the model wrote and the writer kept


class DerivedView(msgspec.Struct, kw_only=True):
    id: str | None
    processor: str
    schema_id: str | None = None
    preview: str = ""
    data: dict[str, Any] | None = None
    status: str
    reason: str | None = None


class ChapterView(msgspec.Struct, kw_only=True):
    chapter: int
    title: str
    draft: dict[str, Any] | None
    draft_status: str
    # The text expansion's blob, whole: only with `?expanded=true`, for clients that read it here
    # (the same expansion is under `derived`, with every other processor's piece).
    expanded: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    status: str  # the expansion's status
    reason: str | None = None  # why, when the status is `failed` (or `stale` because an input it read changed)
    derived: dict[str, DerivedView] = {}  # what every processor down every chain made of the draft
    words: int = 0
    ai_words: int = 0  # the draft's words the model wrote and the writer kept


class BookView(msgspec.Struct, kw_only=True):
    """`GET /api/v1/users/{uid}/books/{book_id}`."""

    book: BookRef
    chapters: list[ChapterView]
    compiled: dict[str, Any] | None
    compiled_status: str | None
    sources: dict[str, SourceStatus]
    compile_failure: dict[str, Any] | None = None  # the newest compile request the compiler gave up on
    errors: list[ViewError]
    outputs: dict[str, DerivedView] = {}  # what book-level processors made of the whole book
    codex: list[dict[str, Any]] = []  # the story bible: the book's own entries, then every book's

    def complete(self) -> bool:
        """Nothing in it waits on a store or a processor: only an event can change it."""
        settled = (OK, FAILED, RETIRED)
        return (
            all(s.status == OK for s in self.sources.values())
            and all(
                c.status in settled and c.draft_status == OK and all(d.status in settled for d in c.derived.values())
                for c in self.chapters
            )
            and self.compiled_status in (None, *settled)
            and all(o.status in settled for o in self.outputs.values())
        )


class BlobListItem(msgspec.Struct, kw_only=True):
    id: str
    type: str
    schema_id: str
    version: int
    data: dict[str, Any]
    book_id: str | None = None
    chapter: int | None = None
    derived: list[DerivedView]


class BlobListView(msgspec.Struct, kw_only=True):
    """`GET /api/v1/users/{uid}/blobs`."""

    blobs: list[BlobListItem]
    next_cursor: str | None
    sources: dict[str, SourceStatus]
    errors: list[ViewError]
