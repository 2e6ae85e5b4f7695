"""Events on NATS JetStream: past tense, tagged by `event`, decodable as one union."""

from __future__ import annotations

from datetime import datetime

import msgspec


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event"):
    """Fields every event carries; `event_id` is also the Nats-Msg-Id header."""

    event_id: str
    user_id: str
    blob_id: str
    schema_id: str
    version: int
    occurred_at: datetime


class BlobChanged(Event):
    """What a created or updated blob's event says of it, so consumers rarely need a lookup."""

    processor_id: str
    type: str = ""
    parent_id: str | None = None
    book_id: str | None = None
    chapter: int | None = None
    title: str = ""
    preview: str = ""


class BlobCreated(BlobChanged, tag="blob.created"):
    source_version: int | None = None


class BlobUpdated(BlobChanged, tag="blob.updated"):
    previous_version: int | None = None


class BlobDeleted(Event, tag="blob.deleted"):
    processor_id: str
    parent_id: str | None = None
    book_id: str | None = None
    chapter: int | None = None
    derived_ids: list[str] = []


AnyEvent = BlobCreated | BlobUpdated | BlobDeleted
