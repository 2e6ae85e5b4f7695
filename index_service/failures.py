"""What processors gave up on, kept so that views can say `failed` and why.

A report and its `processor.failed.<processor>` event are one write (the event waits in the
document's outbox, like every other event of the index). A report is keyed by the processor and
the message it gave up on, so a repeated report changes nothing. A failure is resolved when the
same processor later registers what it had failed to make: a derived blob of that parent, or a
compiled version of that book.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import subjects
from contracts.events import ProcessorFailed
from contracts.models import FailureSummary, RecordFailure

from .ids import new_id, now
from .outbox import PENDING_FLAG, OutboxRelay, outbox_entry

# Every failure is written with `resolved: False`, so an equality serves: the embedded server plans a
# `$ne` beside the (user_id, resolved) index as a scan, and this query runs on every book view.
OPEN = {"resolved": False}


def summary(doc: dict[str, Any]) -> FailureSummary:
    return FailureSummary(
        processor=doc["processor_id"],
        reason=doc["reason"],
        failed_at=doc["failed_at"],
        source_version=doc.get("source_version"),
        request_id=doc.get("request_id"),
        blob_id=doc.get("blob_id"),
    )


class FailureStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], relay: OutboxRelay) -> None:
        self.failures = db["failures"]
        self.relay = relay

    @staticmethod
    async def create_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
        await db["failures"].create_index([("user_id", ASCENDING), ("resolved", ASCENDING)])
        await db["failures"].create_index([(PENDING_FLAG, ASCENDING)], sparse=True)

    async def record(self, report: RecordFailure) -> tuple[FailureSummary, bool]:
        """Keep a failure and announce it; returns it and whether this report was new."""
        doc_id = f"{report.processor_id}/{report.key}"
        existing = await self.failures.find_one({"_id": doc_id})
        if existing is not None:
            return summary(existing), False
        moment = now()
        event = ProcessorFailed(
            event_id=new_id(),
            user_id=report.user_id,
            processor_id=report.processor_id,
            reason=report.reason,
            occurred_at=moment,
            blob_id=report.blob_id,
            source_version=report.source_version,
            book_id=report.book_id,
            request_id=report.request_id,
        )
        entry = outbox_entry(subjects.processor_failed(report.processor_id), event)
        fields = {
            "user_id": report.user_id,
            "processor_id": report.processor_id,
            "reason": report.reason,
            "blob_id": report.blob_id,
            "source_version": report.source_version,
            "book_id": report.book_id,
            "request_id": report.request_id,
            "failed_at": moment,
            "resolved": False,
        }
        result = await self.failures.update_one(
            {"_id": doc_id}, {"$setOnInsert": {**fields, PENDING_FLAG: True, "outbox": [entry]}}, upsert=True
        )
        if result.upserted_id is None:  # another report of the same message won the race
            return summary(fields), False
        self.relay.notify(doc_id, [entry])
        return summary(fields), True

    async def resolve(
        self, user_id: str, processor_id: str, *, blob_id: str | None = None, book_id: str | None = None
    ) -> None:
        """The processor made what it once failed to make: that failure is over."""
        where: dict[str, Any] = {"user_id": user_id, "processor_id": processor_id, **OPEN}
        if blob_id is not None:
            where["blob_id"] = blob_id
        else:
            where.update(book_id=book_id, blob_id=None)
        # Called on every registration and almost never with anything to resolve: look before
        # writing, since every write is a commit the database syncs to disk.
        if await self.failures.find_one(where, {"_id": 1}) is not None:
            await self.failures.update_many(where, {"$set": {"resolved": True}})

    async def open_of(self, user_id: str, *, blob_id: str | None = None) -> list[dict[str, Any]]:
        """The user's unresolved failures (of one blob, if given), oldest first."""
        where: dict[str, Any] = {"user_id": user_id, **OPEN}
        if blob_id is not None:
            where["blob_id"] = blob_id
        return await self.failures.find(where).sort([("failed_at", ASCENDING)]).to_list(None)
