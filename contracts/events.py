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
    # "superseded": its processor replaced it with a newer version (and may keep the old one).
    reason: str | None = None


class CompileBook(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event", tag="book.compile.requested"):
    """A command: compile a user's book. `event_id` is the request id the client was given."""

    event_id: str
    user_id: str
    book_id: str
    occurred_at: datetime
    prefer: str = "expanded"  # expanded | draft: which text a chapter uses when both are current
    ai: str = "include"  # include | omit | mark: what becomes of the words the model wrote


class BookUpdated(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event", tag="book.updated"):
    """A book's title, description or metadata changed (`fields` names which): views of it are stale."""

    event_id: str
    user_id: str
    book_id: str
    occurred_at: datetime
    fields: list[str] = []


class BookCompiled(Event, tag="book.compiled"):
    """A compiled version of a book is stored and registered (`blob_id` is its index entry)."""

    book_id: str
    request_id: str
    chapter_count: int
    word_count: int
    fallbacks: int = 0


class ProcessorRegistered(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event", tag="processor.registered"
):
    """A processor registered or re-registered (for instance at a new URL): routers refresh."""

    event_id: str
    processor_id: str
    base_url: str
    occurred_at: datetime


class ProcessorDeactivated(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event", tag="processor.deactivated"
):
    """An operator retired a processor: its consumers stop, gateways stop waiting for its items."""

    event_id: str
    processor_id: str
    occurred_at: datetime
    reason: str | None = None


class ProcessorActivated(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event", tag="processor.activated"
):
    """An operator brought a retired processor back: it consumes again, views show its items again."""

    event_id: str
    processor_id: str
    occurred_at: datetime
    reason: str | None = None


class ProcessorFailed(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event", tag="processor.failed"):
    """A processor gave up on a message (it is a dead letter now): what it was about, and why.

    `blob_id` is the user blob it could not derive from (at `source_version`), or `book_id` the
    book it could not compile (`request_id` the compile request).
    """

    event_id: str
    user_id: str
    processor_id: str
    reason: str
    occurred_at: datetime
    blob_id: str | None = None
    source_version: int | None = None
    book_id: str | None = None
    request_id: str | None = None


AnyEvent = BlobCreated | BlobUpdated | BlobDeleted | CompileBook | BookCompiled | ProcessorRegistered | ProcessorFailed


class BlobProgress(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="event", tag="blob.progress"):
    """Part of a derived blob while it is being made: new text (`delta`) of one of its sections.

    On the progress stream, not the event stream: short-lived, on `progress.<user>.<parent>.<processor>`.
    `seq` counts 1, 2, ... within one `attempt` (the delivery of the event being handled); a message
    of a higher attempt means the work started over, so partial text of older attempts is dropped.
    `restart` says the section's text so far is dropped (its stream broke and is being retried).
    A client joins the sections' texts, each stripped, with a blank line between them.
    """

    user_id: str
    parent_id: str
    parent_version: int
    derived_id: str
    processor_id: str
    attempt: int
    section: int
    sections: int
    seq: int
    delta: str = ""
    done: bool = False
    restart: bool = False
    occurred_at: datetime
