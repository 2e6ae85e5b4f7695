"""A derived blob made again from the same parent version, because an input it read changed."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from contracts import subjects
from contracts.events import BlobUpdated
from contracts.models import RegisterDerivedBlob

from .documents import PREVIEW_CHARS
from .ids import new_id, now
from .listing import LIVE
from .outbox import PENDING_FLAG, OutboxRelay, outbox_entry, push_events


def inputs_of(request: RegisterDerivedBlob) -> list[dict[str, Any]]:
    """The inputs as the document stores them, in a stable order."""
    return sorted(({"blob_id": i.blob_id, "version": i.version} for i in request.inputs), key=lambda i: i["blob_id"])


def changed(doc: dict[str, Any], request: RegisterDerivedBlob) -> bool:
    """Whether a registration of an existing blob says it was made again: with other inputs, or
    as a newer version (a section regenerated or discarded)."""
    return inputs_of(request) != (doc.get("inputs") or []) or request.version > doc["version"]


async def refresh(
    blobs: AsyncCollection[dict[str, Any]], relay: OutboxRelay, doc: dict[str, Any], request: RegisterDerivedBlob
) -> dict[str, Any]:
    """Record the new inputs, title and preview as the entry's next version, announced as
    `blob.updated` in the same write (what reads the blob derives again); the document after it.

    Conditional on the version read: of two refreshes at once, the second reads again and, if the
    first already recorded the same inputs, has nothing to do."""
    for _ in range(5):
        if not changed(doc, request):
            return doc
        moment = now()
        fields = {
            "inputs": inputs_of(request),
            "title": request.title,
            "preview": request.preview[:PREVIEW_CHARS],
            "size_bytes": request.size_bytes,
            "version": max(doc["version"] + 1, request.version),
            "updated_at": moment,
            PENDING_FLAG: True,
        }
        event = BlobUpdated(
            event_id=new_id(),
            user_id=doc["user_id"],
            blob_id=doc["_id"],
            schema_id=doc["schema_id"],
            version=fields["version"],
            occurred_at=moment,
            processor_id=doc["processor_id"],
            type=doc["type"],
            parent_id=doc.get("parent_id"),
            book_id=doc.get("book_id"),
            chapter=doc.get("chapter"),
            title=request.title,
            preview=fields["preview"],
            previous_version=doc["version"],
        )
        entry = outbox_entry(subjects.blob_updated(doc["schema_id"]), event)
        result = await blobs.update_one(
            {"_id": doc["_id"], "version": doc["version"], **LIVE},
            {"$set": fields, "$unset": {"awaiting": ""}, **push_events(entry)},
        )
        if result.modified_count:
            relay.notify(doc["_id"], [entry])
            return {**doc, **fields}
        found = await blobs.find_one({"_id": doc["_id"], **LIVE})
        if found is None:
            return doc
        doc = found
    return doc
