"""Wire models of the processors' query APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from .ids import Id
from .models import InputUsed


class DerivedBlob(msgspec.Struct, kw_only=True):
    """A blob a processor made and holds in its own store, as its query API returns it."""

    id: str
    user_id: str
    processor_id: str
    schema_id: str
    data: dict[str, Any]
    parent_blob_id: str | None = None  # the user blob it was made from, if one
    source_version: int | None = None
    book_id: str | None = None
    version: int = 1
    title: str = ""
    preview: str = ""
    processing_time_ms: int = 0
    model_used: str = ""
    tokens_used: int = 0
    created_at: datetime
    inputs: list[InputUsed] = []  # what it read besides its parent (story-bible entries), at which versions


class DerivedBatchRequest(msgspec.Struct, kw_only=True):
    """`POST /blobs/batch` on a processor."""

    user_id: Id
    ids: Annotated[list[Id], msgspec.Meta(max_length=1000)]


class DerivedBatch(msgspec.Struct, kw_only=True):
    blobs: list[DerivedBlob]
    missing: list[str]


class DerivedPage(msgspec.Struct, kw_only=True):
    """`GET /users/{uid}/blobs?since=`: oldest first; pass `next_since` back to continue."""

    blobs: list[DerivedBlob]
    next_since: datetime | None


class DeadLetter(msgspec.Struct, kw_only=True):
    """A message a processor gave up on: where it is in the stream and why."""

    dlq_seq: int
    stream_seq: int
    consumer: str
    processor_id: str
    reason: str
    deliveries: int
    subject: str
    occurred_at: datetime | None = None


Instruction = Annotated[str, msgspec.Meta(max_length=500)]


class RegenerateSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /api/v1/blobs/{expansion_id}/sections/{section_id}/regenerate` (client body): how to write it again."""

    instruction: Instruction | None = None  # "more dialogue", "shorter"


class ReviseSection(msgspec.Struct, kw_only=True):
    """A section discarded or written again, asked of the processor that holds it (internal body)."""

    user_id: Id
    instruction: Instruction | None = None


class RevisedSection(msgspec.Struct, kw_only=True):
    """A section as it is now (discarded), or as it will be written again (`status: regenerating`)."""

    blob_id: str
    section: dict[str, Any]
    version: int  # the expansion's version that holds it (the next one, while it is written again)
