"""The processor runtime's calls to the index service."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.models import (
    AwaitInput,
    BlobBatchRequest,
    BlobIndexEntry,
    BookState,
    ProcessorRegistration,
    RecordFailure,
    RegisterDerivedBlob,
    RegisterSchema,
    SchemaDocument,
)
from servicekit.client import CallFailed, ServiceClient
from servicekit.urls import UrlPath, url_path

from .base import Source
from .errors import IndexUnavailable, PermanentError, RegistrationRefused, SchemaRefused


def without_nul(value: Any) -> Any:
    """`value` with NUL characters removed from every string and key.

    The edge refuses NUL now, but blobs stored before it did may hold some, and PostgreSQL can
    keep neither NUL in text nor `\\u0000` in JSONB: a processor reads such a blob without them.
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def _source(blob: dict[str, Any]) -> Source:
    return Source(
        id=blob["id"],
        user_id=blob["user_id"],
        schema_id=blob["schema_id"],
        version=blob["version"],
        data=without_nul(blob["data"]),
        title=str(blob.get("title") or ""),
        book_id=blob.get("book_id"),
        chapter=blob.get("chapter"),
    )


USED_BY_LIMIT = 500  # the index's largest page: what used one entry, oldest first


class IndexClient:
    """The index service's routes a processor uses, its answers turned into the runtime's errors."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def _call(
        self, method: str, path: UrlPath, *, params: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, bytes]:
        try:
            answer = await self.client.request(method, path, params=params, body=body)
        except CallFailed as exc:
            raise IndexUnavailable(f"{method} {path}: {exc}") from exc
        return answer.status, answer.body

    async def source(self, user_id: str, blob_id: str) -> Source | None:
        """The current version of a user blob; None when it no longer exists."""
        # The batch route reads one document; the single-blob route also gathers derived summaries.
        status, payload = await self._call(
            "POST", url_path("api", "v1", "blobs", "batch"), body=BlobBatchRequest(user_id=user_id, ids=[blob_id])
        )
        if status != 200:
            raise PermanentError(f"the index refused to return blob {blob_id}: {status}")
        found = msgspec.json.decode(payload)["blobs"]
        return _source(found[0]) if found else None

    async def reads(self, user_id: str, schema_id: str, book_id: str | None) -> tuple[Source, ...]:
        """The user's blobs of `schema_id` that apply to a blob of `book_id` (filed under it, or under no book)."""
        params = {"schema_id": schema_id, **({"book_id": book_id} if book_id is not None else {})}
        status, payload = await self._call("GET", url_path("api", "v1", "users", user_id, "inputs"), params=params)
        if status != 200:
            raise PermanentError(f"the index refused the {schema_id} blobs of {user_id}: {status}")
        return tuple(_source(blob) for blob in msgspec.json.decode(payload)["blobs"])

    async def used_by(self, user_id: str, input_id: str, processor_id: str) -> list[BlobIndexEntry]:
        """What `processor_id` made with `input_id` as an input besides its parent."""
        params = {"user_id": user_id, "input_id": input_id, "processor_id": processor_id, "limit": str(USED_BY_LIMIT)}
        status, payload = await self._call("GET", url_path("api", "v1", "blob-index"), params=params)
        if status != 200:
            raise PermanentError(f"the index refused to list what used {input_id}: {status}")
        return msgspec.json.decode(payload, type=dict[str, list[BlobIndexEntry]])["entries"]

    async def await_input(self, request: AwaitInput) -> None:
        """Tell the index that what was made from `parent_ids` will use a new input (stale until made again)."""
        status, _ = await self._call("POST", url_path("api", "v1", "blob-index", "awaiting"), body=request)
        if status != 204:
            raise PermanentError(f"the index refused to mark what awaits {request.input.blob_id}: {status}")

    async def books(self, user_id: str) -> list[BookState]:
        """The user's books (without their drafts)."""
        status, payload = await self._call("GET", url_path("api", "v1", "users", user_id, "books"))
        if status != 200:
            raise PermanentError(f"the index refused the books of {user_id}: {status}")
        return msgspec.json.decode(payload, type=dict[str, list[BookState]])["books"]

    async def book(self, user_id: str, book_id: str, *, with_drafts: bool = False) -> BookState | None:
        """A user's book with its chapters (and their drafts, whole, if asked); None when there is no such book."""
        params = {"include": "drafts"} if with_drafts else None
        status, payload = await self._call(
            "GET", url_path("api", "v1", "users", user_id, "books", book_id), params=params
        )
        if status == 404:
            return None
        if status != 200:
            raise PermanentError(f"the index refused book {book_id}: {status}")
        return msgspec.json.decode(payload, type=BookState)

    async def processor(self, processor_id: str) -> ProcessorRegistration | None:
        status, payload = await self._call("GET", url_path("api", "v1", "processors", processor_id))
        if status == 404:
            return None
        return msgspec.json.decode(payload, type=ProcessorRegistration)

    async def entries(self, user_id: str, *, schema_id: str, limit: int = 500) -> list[BlobIndexEntry]:
        """A user's index entries of one schema, oldest first (at most `limit`)."""
        params = {"user_id": user_id, "schema_id": schema_id, "limit": str(limit)}
        status, payload = await self._call("GET", url_path("api", "v1", "blob-index"), params=params)
        if status != 200:
            raise PermanentError(f"the index refused to list {schema_id} for {user_id}: {status}")
        return msgspec.json.decode(payload, type=dict[str, list[BlobIndexEntry]])["entries"]

    async def register(self, request: RegisterDerivedBlob) -> BlobIndexEntry | None:
        """Index a derived blob (idempotent); None when its parent is gone."""
        status, payload = await self._call("POST", url_path("api", "v1", "blob-index"), body=request)
        if status == 404:
            return None
        if status not in (200, 201):
            raise PermanentError(f"the index refused derived blob {request.id}: {status} {payload[:300]!r}")
        return msgspec.json.decode(payload, type=BlobIndexEntry)

    async def delete(self, user_id: str, blob_id: str, *, superseded: bool = False) -> bool:
        """Remove an index entry; False when it was already gone."""
        params = {"user_id": user_id, **({"reason": "superseded"} if superseded else {})}
        status, payload = await self._call("DELETE", url_path("api", "v1", "blobs", blob_id), params=params)
        if status not in (204, 404):
            raise PermanentError(f"the index refused to delete {blob_id}: {status} {payload[:200]!r}")
        return status == 204

    async def report_failure(self, report: RecordFailure) -> None:
        """Tell the index (and through it the owner) that this processor gave up on a message."""
        status, payload = await self._call("POST", url_path("api", "v1", "failures"), body=report)
        if status not in (200, 201):
            raise PermanentError(f"the index refused a failure report: {status} {payload[:300]!r}")

    async def register_processor(self, registration: ProcessorRegistration) -> ProcessorRegistration:
        """Register (or re-register) a processor; returns the registry's entry (is it active?)."""
        status, payload = await self._call("POST", url_path("api", "v1", "processors"), body=registration)
        if status == 409:
            raise RegistrationRefused(f"processor registration refused: {payload[:500].decode(errors='replace')}")
        if status not in (200, 201):
            raise PermanentError(f"processor registration refused: {status} {payload[:300]!r}")
        return msgspec.json.decode(payload, type=ProcessorRegistration)

    async def register_schema(self, schema_id: str, schema: dict[str, Any]) -> None:
        """Register (or revise) a schema; SchemaRefused names the incompatibilities if refused."""
        status, payload = await self._call(
            "POST", url_path("api", "v1", "schemas"), body=RegisterSchema(id=schema_id, schema=schema)
        )
        if status not in (200, 201):
            try:
                problem = msgspec.json.decode(payload)
                reasons = "; ".join(str(e.get("detail")) for e in problem.get("errors") or []) or problem.get(
                    "detail", ""
                )
            except (msgspec.DecodeError, AttributeError):
                reasons = payload[:300].decode(errors="replace")
            raise SchemaRefused(f"the registry refused schema {schema_id} ({status}): {reasons}")

    async def schema(self, schema_id: str) -> dict[str, Any] | None:
        """A registered schema's current revision; None if no one registered it."""
        status, payload = await self._call("GET", url_path("api", "v1", "schemas", schema_id))
        if status == 404:
            return None
        if status != 200:
            raise PermanentError(f"the registry refused schema {schema_id}: {status}")
        return msgspec.json.decode(payload, type=SchemaDocument).schema
