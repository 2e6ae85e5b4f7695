"""How blobs and index entries are laid out in MongoDB, and how they read back as wire models.

One collection, `blobs`, holds every BlobIndex entry; a user blob's entry also carries its `data`.
A document's pending events live in its own `outbox` array, so a write and the event announcing it
are one single-document (atomic) write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from contracts.events import BlobCreated
from contracts.models import BlobIndexEntry, DerivedSummary, UserBlob

PREVIEW_CHARS = 200
TITLE_WORDS = 8

_ENTRY_FIELDS = BlobIndexEntry.__struct_fields__
_BLOB_FIELDS = UserBlob.__struct_fields__


def schema_name(schema_id: str) -> str:
    """`text-input-v1` -> `text-input`."""
    return schema_id.rsplit("-v", 1)[0]


def text_of(data: dict[str, Any]) -> str:
    """The text a blob's preview is cut from: its `content`, else its JSON."""
    for field in ("content", "description"):  # a draft's text; a story-bible entry's description
        if isinstance(data.get(field), str):
            return str(data[field])
    return msgspec.json.encode(data).decode()


def title_of(data: dict[str, Any], chapter: int | None) -> str:
    """The metadata title, else "Chapter N", else the first words of the text."""
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("title"), str) and metadata["title"].strip():
        return str(metadata["title"]).strip()[:300]
    if chapter is not None:
        return f"Chapter {chapter}"
    if isinstance(data.get("name"), str) and data["name"].strip():  # a story-bible entry
        return str(data["name"]).strip()[:300]
    words = text_of(data).split()
    return " ".join(words[:TITLE_WORDS]) + (" …" if len(words) > TITLE_WORDS else "")


def to_entry(doc: dict[str, Any]) -> BlobIndexEntry:
    fields = {k: doc[k] for k in _ENTRY_FIELDS if k in doc and doc[k] is not None}
    fields["id"] = doc["_id"]
    return msgspec.convert(fields, BlobIndexEntry)


def to_user_blob(doc: dict[str, Any], cls: type[UserBlob] = UserBlob, **extra: Any) -> UserBlob:
    fields = {k: doc[k] for k in _BLOB_FIELDS if k in doc and doc[k] is not None}
    fields["id"] = doc["_id"]
    fields.update(extra)
    return msgspec.convert(fields, cls)


def derived_summary(child: dict[str, Any], parent_version: int) -> DerivedSummary:
    """A derived entry as its parent's view shows it; `stale` when made from an older version."""
    source = child.get("source_version")
    status = "stale" if source is not None and source < parent_version else "ok"
    return DerivedSummary(
        id=child["_id"],
        processor=child["processor_id"],
        schema_id=child["schema_id"],
        preview=child.get("preview", ""),
        status=status,
        version=child.get("version"),
        source_version=source,
    )


def chapter_key(user_id: str, book_id: str | None, chapter: int | None) -> str | None:
    """The unique slot a live chapter draft occupies; None for blobs outside a book's chapters."""
    if book_id is None or chapter is None:
        return None
    return f"{user_id}/{book_id}/{chapter}"


def cursor_filter(cursor: tuple[datetime, str] | None) -> dict[str, Any]:
    if cursor is None:
        return {}
    created, last_id = cursor
    return {"$or": [{"created_at": {"$gt": created}}, {"created_at": created, "_id": {"$gt": last_id}}]}


# Keys only one kind of blob has: a user's blob its data, a processor's the version it was made from.
_ONE_KIND_ONLY = ("data", "processing_state", "conversation_id", "source_version", "inputs", "words", "ai_words")


class BlobDocument(msgspec.Struct, kw_only=True):
    """A blob's document in `blobs`, as a user's write and a processor's registration both make it."""

    id: str
    user_id: str
    processor_id: str
    storage_location: str
    remote_blob_id: str
    schema_id: str
    schema_version: int
    type: str
    title: str
    preview: str
    size_bytes: int
    version: int
    parent_id: str | None = None
    book_id: str | None = None
    chapter: int | None = None
    created_at: datetime
    updated_at: datetime
    derived_ids: list[str] = []
    data: dict[str, Any] | None = None  # a user's blob
    processing_state: str | None = None  # a user's blob
    conversation_id: str | None = None  # a user's blob
    source_version: int | None = None  # a processor's blob: the version of its parent it was made from
    inputs: list[dict[str, Any]] | None = None  # a processor's blob: what it read besides its parent
    words: int | None = None  # a draft: its words
    ai_words: int | None = None  # a draft: its words inside the spans the model wrote

    def created(self, event_id: str) -> BlobCreated:
        """The `blob.created` event that announces this document."""
        return BlobCreated(
            event_id=event_id,
            user_id=self.user_id,
            blob_id=self.id,
            schema_id=self.schema_id,
            version=self.version,
            occurred_at=self.created_at,
            processor_id=self.processor_id,
            type=self.type,
            parent_id=self.parent_id,
            book_id=self.book_id,
            chapter=self.chapter,
            title=self.title,
            preview=self.preview,
            source_version=self.source_version,
        )

    def stored(self, **extra: Any) -> dict[str, Any]:
        """The MongoDB document: `_id`, every field (those of the other kind of blob left out), `extra`."""
        doc = msgspec.structs.asdict(self)
        doc["_id"] = doc.pop("id")
        for key in _ONE_KIND_ONLY:
            if doc[key] is None:
                del doc[key]
        return {**doc, **extra}
