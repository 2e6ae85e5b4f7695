"""What the WebSocket carries: messages to the client (each `type`), and the actions it may send."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# Application close codes (RFC 6455 §7.4.2 leaves 4000-4999 to applications).
CLOSE_TOKEN_EXPIRED = 4001  # the token expired and no fresh one came: sign in again, then reconnect
CLOSE_TOKEN_REFUSED = 4003  # an `authenticate` action carried a token that is invalid or another user's
CLOSE_SLOW_CONSUMER = 4008  # the client did not keep up: reconnect and resume
EXPIRY_NOTICE_SECONDS = 60  # `token.expiring` comes this long before the socket is closed (at once if less remains)


class Ready(msgspec.Struct, kw_only=True):
    """Sent once the socket is live (after any replay): the newest `id` and `progress_id` so far."""

    type: Literal["ready"] = "ready"
    id: int
    progress_id: int = 0


class Resync(msgspec.Struct, kw_only=True):
    """Too much was missed to replay: reload the views instead."""

    type: Literal["resync"] = "resync"
    detail: str


class BlobChangedMessage(msgspec.Struct, kw_only=True):
    """A blob of the user's was created, updated or deleted (`id`: resume after it)."""

    type: Literal["blob.created", "blob.updated", "blob.deleted"]
    id: int
    event_id: str | None
    occurred_at: str | None
    blob_id: str
    schema_id: str | None
    version: int | None
    processor: str | None
    book_id: str | None
    chapter: int | None


class BlobDerivedMessage(msgspec.Struct, kw_only=True):
    """A processor registered what it made from one of the user's blobs."""

    type: Literal["blob.derived"] = "blob.derived"
    id: int
    event_id: str | None
    occurred_at: str | None
    parent_id: str
    derived_id: str
    processor: str
    schema_id: str | None
    preview: str
    book_id: str | None
    chapter: int | None


class BookCompiledMessage(msgspec.Struct, kw_only=True):
    type: Literal["book.compiled"] = "book.compiled"
    id: int
    event_id: str | None
    occurred_at: str | None
    book_id: str
    blob_id: str
    version: int
    request_id: str | None
    chapter_count: int | None
    word_count: int | None


class BookUpdatedMessage(msgspec.Struct, kw_only=True):
    """A book's title, description or metadata changed (`fields`): views of it are stale."""

    type: Literal["book.updated"] = "book.updated"
    id: int
    event_id: str | None
    occurred_at: str | None
    book_id: str
    fields: list[str]


class ProcessorFailedMessage(msgspec.Struct, kw_only=True):
    """A processor gave up on one of the user's blobs (or a compile request), and why."""

    type: Literal["processor.failed"] = "processor.failed"
    id: int
    event_id: str | None
    occurred_at: str | None
    processor: str | None
    blob_id: str | None
    source_version: int | None
    book_id: str | None
    request_id: str | None
    reason: str | None


class ProgressMessage(msgspec.Struct, kw_only=True):
    """New text of one section of a derived blob being made. Join a section's deltas in order (a
    `restart` empties it first; a higher `attempt` replaces an older one), strip each section, put
    a blank line between sections. `progress_id`: resume after it (`?last_progress_id=`)."""

    type: Literal["blob.progress"] = "blob.progress"
    progress_id: int
    parent_id: str
    parent_version: int
    derived_id: str
    processor: str
    attempt: int
    section: int
    sections: int
    seq: int
    delta: str
    done: bool
    restart: bool


class TokenExpiring(msgspec.Struct, kw_only=True):
    """The socket's token stops being accepted at `expires_at` (epoch seconds): send an
    `authenticate` action with a fresh token of the same user before then, or the socket is closed
    with 4001. Sent a minute ahead (at once when less remains)."""

    type: Literal["token.expiring"] = "token.expiring"
    expires_at: int


class Authenticated(msgspec.Struct, kw_only=True):
    """The answer to `authenticate`: the fresh token is the socket's now, until `expires_at`."""

    type: Literal["authenticated"] = "authenticated"
    request_id: str | None = None
    expires_at: int


class CreateBlobAction(msgspec.Struct, kw_only=True):
    """`{"action": "create_blob", "data": {...}}`: a full blob body, or the seeds' `{content, book_id, chapter}`."""

    action: Literal["create_blob"]
    data: dict[str, Any]
    request_id: str | None = None


class AuthenticateAction(msgspec.Struct, kw_only=True):
    """`{"action": "authenticate", "token": "<fresh JWT>"}`: keep the socket open past its token's
    expiry. The token must be valid and name the same user, else the socket gets an `error` and is
    closed with 4003."""

    action: Literal["authenticate"]
    token: str
    request_id: str | None = None


class CreateBlobResult(msgspec.Struct, kw_only=True):
    """The answer to `create_blob`: the status `POST /api/v1/blobs` would give, and the blob or the problem."""

    type: Literal["blob.create.result"] = "blob.create.result"
    request_id: str | None
    status: int
    blob: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None


class ErrorMessage(msgspec.Struct, kw_only=True):
    """An action that could not be read or done."""

    type: Literal["error"] = "error"
    request_id: str | None = None
    status: int
    detail: str | None = None
    problem: dict[str, Any] | None = None


SENT: tuple[type[msgspec.Struct], ...] = (
    Ready,
    Resync,
    BlobChangedMessage,
    BlobDerivedMessage,
    BookCompiledMessage,
    BookUpdatedMessage,
    ProcessorFailedMessage,
    ProgressMessage,
    TokenExpiring,
    Authenticated,
    CreateBlobResult,
    ErrorMessage,
)
RECEIVED: tuple[type[msgspec.Struct], ...] = (CreateBlobAction, AuthenticateAction)
