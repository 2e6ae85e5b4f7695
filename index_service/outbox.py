"""The transactional outbox: events stored with the document they announce, published after.

A write puts its event in the document's `outbox` array and sets `outbox_pending`, in the same
single-document write. The relay publishes each event to JetStream with `Nats-Msg-Id` = `event_id`
and removes it from the array only after the broker acknowledged it. A crash anywhere in between
leaves the event in the document; the relay's scan at start (and every few seconds) publishes it
again, and JetStream's de-duplication window drops the copy if the first publish had gone through.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.js import JetStreamContext
from pymongo.asynchronous.collection import AsyncCollection

from contracts.events import (
    BookUpdated,
    CompileBook,
    Event,
    ProcessorActivated,
    ProcessorDeactivated,
    ProcessorFailed,
    ProcessorRegistered,
)
from servicekit.retry import RELAY, Backoff
from servicekit.tracing import SpanKind, Tracer, current_carrier, inject, span

log = logging.getLogger(__name__)

PENDING_FLAG = "outbox_pending"
CASCADE_FLAG = "cascade_pending"  # a tombstone whose derived blobs are still to be deleted
CRASH_EXIT_CODE = 86
BATCH = 200


def outbox_entry(
    subject: str,
    event: Event
    | CompileBook
    | BookUpdated
    | ProcessorRegistered
    | ProcessorFailed
    | ProcessorActivated
    | ProcessorDeactivated,
) -> dict[str, Any]:
    """What a write stores for one event: the subject, the encoded payload ready to publish, and
    the trace of the request that wrote it (published with the event, so consumers continue it)."""
    entry: dict[str, Any] = {"event_id": event.event_id, "subject": subject, "payload": msgspec.json.encode(event)}
    trace = current_carrier()
    if trace:
        entry["trace"] = trace
    return entry


def push_events(*entries: dict[str, Any]) -> dict[str, Any]:
    """The update clauses that queue `entries` in a document's outbox."""
    return {"$push": {"outbox": {"$each": list(entries)}}}


class OutboxRelay:
    """Publishes pending events; `notify(doc_id)` after a write makes it do so at once."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        js: JetStreamContext,
        *,
        scan_seconds: float,
        crash_before_publish: bool = False,
        publish_timeout: float = 5.0,
        tracer: Tracer,
    ) -> None:
        self._collection = collection
        self._js = js
        self._scan_seconds = scan_seconds
        self._crash_before_publish = crash_before_publish
        self._publish_timeout = publish_timeout
        self._tracer = tracer
        self._dirty: set[str] = set()
        self._handed: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        # Published, to be marked sent: (document ids, event ids, tombstone ids) per batch.
        self._unmarked: list[tuple[list[str], list[str], list[str]]] = []
        self._marking: set[str] = set()  # the documents the marker is writing now
        self._marks_due = asyncio.Event()
        self.published = 0

    def notify(self, doc_id: str, entries: list[dict[str, Any]] | None = None, *, deleted: bool = False) -> None:
        """Publish what a write just queued: `entries` as written, else whatever the document holds."""
        if entries is None or doc_id in self._handed:
            self._dirty.add(doc_id)  # two writes in one breath: read the document back instead
        else:
            self._handed[doc_id] = {"_id": doc_id, "outbox": entries, "deleted": deleted}
        self._wake.set()

    async def run(self, *, before_scan: Callable[[], Awaitable[object]] | None = None) -> None:
        """Relay until cancelled: written events at once, a full scan at start and periodically
        (`before_scan` runs first each time, to settle what a crash left half written).

        Marking events sent runs beside publishing: under load the marking write waits its turn
        in the database, and the next events must not wait behind it (they would reach clients
        that much later). An event marked late is at worst published again, and JetStream's
        de-duplication window drops the second copy."""
        marker = asyncio.create_task(self._mark_forever())
        try:
            await self._publish_forever(before_scan)
        finally:
            marker.cancel()
            await asyncio.gather(marker, return_exceptions=True)

    async def _publish_forever(self, before_scan: Callable[[], Awaitable[object]] | None) -> None:
        last_scan = 0.0
        backoff = Backoff(RELAY)
        while True:
            if not (self._dirty or self._handed) and time.monotonic() - last_scan < self._scan_seconds:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._scan_seconds)
                except TimeoutError:
                    pass
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            handed, self._handed = self._handed, {}
            try:
                if handed:
                    # The writer handed over what it wrote: no need to read it back.
                    await self._publish(list(handed.values()))
                if dirty:
                    await self.relay({"_id": {"$in": sorted(dirty)}})
                if time.monotonic() - last_scan >= self._scan_seconds:
                    if before_scan is not None:
                        await before_scan()
                    # What is published but not yet marked is not left behind: it is not published again.
                    awaiting = {i for ids, _, _ in self._unmarked for i in ids} | self._marking
                    await self.relay({PENDING_FLAG: True, **({"_id": {"$nin": sorted(awaiting)}} if awaiting else {})})
                    last_scan = time.monotonic()
                backoff.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep the events, back off, retry
                self._dirty |= dirty | set(handed)
                delay = backoff.failed()
                log.warning("outbox relay failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)

    async def relay(self, query: dict[str, Any]) -> int:
        """Publish the pending events of the documents matching `query`; returns how many."""
        docs = await self._collection.find({**query, PENDING_FLAG: True}, {"outbox": 1, "deleted": 1}).to_list(BATCH)
        return await self._publish(docs)

    async def _publish(self, docs: list[dict[str, Any]]) -> int:
        """Publish every document's events; hand them to the marker, which marks them sent."""
        results = await asyncio.gather(*(self._publish_doc(doc) for doc in docs), return_exceptions=True)
        sent = [event_id for result in results if isinstance(result, list) for event_id in result]
        ids = [doc["_id"] for doc in docs]
        if ids:
            self._unmarked.append((ids, sent, [doc["_id"] for doc in docs if doc.get("deleted")]))
            self._marks_due.set()
        self.published += len(sent)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
        return len(sent)

    async def _mark_forever(self) -> None:
        backoff = Backoff(RELAY)
        while True:
            await self._marks_due.wait()
            self._marks_due.clear()
            batches, self._unmarked = self._unmarked, []
            self._marking = {i for ids, _, _ in batches for i in ids}
            try:
                await self._mark(
                    [i for ids, _, _ in batches for i in ids],
                    [e for _, sent, _ in batches for e in sent],
                    [t for _, _, tombstones in batches for t in tombstones],
                )
                backoff.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the events stay pending in the database; the next try or scan marks them
                self._unmarked[:0] = batches
                self._marks_due.set()
                log.warning("marking events sent failed (%s: %s)", type(exc).__name__, exc)
                await backoff.wait()
            finally:
                self._marking = set()

    async def _mark(self, ids: list[str], sent: list[str], tombstones: list[str]) -> None:
        """Mark published events sent with as few writes as possible.

        Writes to one collection serialise and every commit is fsynced, so what was published since
        the last marking is marked in one write: a document whose outbox is exactly one sent event
        is emptied and unflagged. Only when some document held more does a second write pull the
        sent events from it."""
        cleared = await self._collection.update_many(
            {"_id": {"$in": ids}, "outbox": {"$size": 1}, "outbox.event_id": {"$in": sent}},
            {"$set": {"outbox": []}, "$unset": {PENDING_FLAG: ""}},
        )
        if cleared.modified_count < len(set(ids)):
            await self._collection.update_many(
                {"_id": {"$in": ids}}, {"$pull": {"outbox": {"event_id": {"$in": sent}}}}
            )
            await self._collection.update_many(
                {"_id": {"$in": ids}, "outbox": {"$size": 0}}, {"$unset": {PENDING_FLAG: ""}}
            )
        if tombstones:
            # A tombstone whose deletion event is out has nothing left to say.
            await self._collection.delete_many(
                {"_id": {"$in": tombstones}, "deleted": True, "outbox": {"$size": 0}, CASCADE_FLAG: {"$exists": False}}
            )

    async def _publish_doc(self, doc: dict[str, Any]) -> list[str]:
        """Publish one document's events in order; the broker's ack comes before the next."""
        sent: list[str] = []
        for entry in doc.get("outbox", []):
            if self._crash_before_publish:
                log.error("test hook: exiting between the database write and the publish")
                os._exit(CRASH_EXIT_CODE)
            subject = entry["subject"]
            # The publish continues the trace of the write that queued the event, whenever it runs.
            with span(
                self._tracer,
                f"publish {subject}",
                kind=SpanKind.PRODUCER,
                parent=entry.get("trace") or {},
                **{
                    "messaging.system": "nats",
                    "messaging.destination.name": subject,
                    "messaging.message.id": entry["event_id"],
                },
            ):
                headers = {"Nats-Msg-Id": entry["event_id"]}
                inject(headers)
                ack = await self._js.publish(
                    subject, bytes(entry["payload"]), headers=headers, timeout=self._publish_timeout
                )
            if ack.duplicate:
                log.info("event %s was already in the stream (published before a restart)", entry["event_id"])
            sent.append(entry["event_id"])
        return sent
