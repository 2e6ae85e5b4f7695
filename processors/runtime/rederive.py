"""Re-deriving a user's items in the background: after a processor's output moved to a new major
version, an operator asks it to make each of a user's items again.

Each current input blob is announced to that processor alone, on `processor.replay.<id>`, as a
`BlobUpdated` of its current version; the processor's runtime derives it as it would any event
(ids made from processor, source, version and output major version: nothing is made twice) and
drops what the older major version made.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from nats.js import JetStreamContext

from contracts.events import BlobUpdated
from contracts.models import BlobIndexEntry
from contracts.subjects import processor_replay

from .index_client import IndexClient


async def rederive(index: IndexClient, js: JetStreamContext, processor_id: str, user_id: str) -> int:
    """Announce every current input of `processor_id` that `user_id` owns to it again; returns how many."""
    registration = await index.processor(processor_id)
    if registration is None:
        raise LookupError(f"processor {processor_id} is not registered")
    announced = 0
    for schema_id in registration.input_schema_ids:
        for entry in await index.entries(user_id, schema_id=schema_id):
            await js.publish(
                processor_replay(processor_id),
                msgspec.json.encode(_announcement(entry)),
                headers={"Nats-Msg-Id": uuid.uuid4().hex},
            )
            announced += 1
    return announced


def _announcement(entry: BlobIndexEntry) -> BlobUpdated:
    return BlobUpdated(
        event_id=uuid.uuid4().hex,
        user_id=entry.user_id,
        blob_id=entry.id,
        schema_id=entry.schema_id,
        version=entry.version,
        occurred_at=datetime.now(UTC),
        processor_id=entry.processor_id,
        type=entry.type,
        parent_id=entry.parent_id,
        book_id=entry.book_id,
        chapter=entry.chapter,
        title=entry.title,
        preview=entry.preview,
        previous_version=entry.version,
    )
