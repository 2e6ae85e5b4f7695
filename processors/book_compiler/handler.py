"""Compile requests: read the book, fetch its texts in one batch call per store, store a version."""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec

from contracts import subjects
from contracts.events import AnyEvent, BlobDeleted, CompileBook
from contracts.models import BookMetadata, RegisterDerivedBlob
from processors.pg import PgOutboxRelay
from processors.runtime.base import Outcome
from processors.runtime.handler import derived_id
from processors.runtime.index_client import IndexClient, without_nul

from .compiler import choose_texts
from .sources import ExpansionSource
from .store import PROCESSOR_ID, SCHEMA_ID, CompiledBookStore, SavedBook

log = logging.getLogger(__name__)


class CompileHandler:
    def __init__(
        self,
        store: CompiledBookStore,
        index: IndexClient,
        expansions: ExpansionSource,
        relay: PgOutboxRelay,
        *,
        expansion_processor: str,
    ) -> None:
        self.store = store
        self.index = index
        self.expansions = expansions
        self.relay = relay
        self.expansion_processor = expansion_processor
        self._relay_task: asyncio.Task[None] | None = None

    def subjects(self) -> list[str]:
        return [
            subjects.BOOK_COMPILE_REQUESTED,
            subjects.blob_deleted(SCHEMA_ID),
            subjects.processor_replay(PROCESSOR_ID),
        ]

    async def start(self) -> None:
        self._relay_task = asyncio.create_task(self.relay.run(), name="book-compiler-outbox")

    async def stop(self) -> None:
        if self._relay_task is not None:
            self._relay_task.cancel()
            await asyncio.gather(self._relay_task, return_exceptions=True)

    async def handle(self, event: AnyEvent, *, attempt: int = 1) -> Outcome:
        if isinstance(event, BlobDeleted) and event.processor_id == PROCESSOR_ID:
            await self.store.delete(event.user_id, [event.blob_id])
            return Outcome.DELETED
        if not isinstance(event, CompileBook):
            return Outcome.SKIPPED
        existing = await self.store.by_request(event.event_id)
        if existing is not None:
            # Delivered again (after a crash or a lost ack): the version exists; make sure it is indexed.
            await self._register(event, existing)
            return Outcome.DUPLICATE
        started = time.perf_counter()
        # The book comes with its drafts in one call; the expansions in one batch from their store.
        book = await self.index.book(event.user_id, event.book_id, with_drafts=True)
        if book is None:
            log.info("book %s of %s is gone; nothing to compile", event.book_id, event.user_id)
            return Outcome.SKIPPED
        drafts = {d.id: without_nul(msgspec.to_builtins(d)) for d in book.drafts or []}
        expansion_ids = [
            c.processed_blob_ids[self.expansion_processor]
            for c in book.chapters
            if self.expansion_processor in c.processed_blob_ids
        ]
        wanted = event.prefer != "draft" and event.ai != "omit"
        expansions = await self.expansions.batch(event.user_id, expansion_ids) if wanted else {}
        fetched = time.perf_counter()
        chapters = choose_texts(
            book.chapters,
            drafts,
            expansions,
            expansion_processor=self.expansion_processor,
            prefer=event.prefer,
            ai=event.ai,
        )
        compiled = time.perf_counter()
        timings = {"fetch_ms": (fetched - started) * 1000, "compile_ms": (compiled - fetched) * 1000}
        saved = await self.store.save(
            user_id=event.user_id,
            book_id=event.book_id,
            title=book.title,
            request_id=event.event_id,
            prefer=event.prefer,
            chapters=chapters,
            timings=timings,
            blob_id_for=lambda version: derived_id(PROCESSOR_ID, f"{event.user_id}/{event.book_id}", version),
            # The metadata as it is now goes with the version: an export of it always reads the same.
            metadata={f: getattr(book, f) for f in BookMetadata.__struct_fields__ if getattr(book, f) is not None},
        )
        stored = time.perf_counter()
        await self._register(event, saved)
        done = time.perf_counter()
        timings.update(
            store_ms=(stored - compiled) * 1000, register_ms=(done - stored) * 1000, total_ms=(done - started) * 1000
        )
        await self.store.record_timings(saved.blob_id, timings)
        log.info(
            "compiled %s/%s v%d: %d chapters; fetch %.1f ms, store %.1f ms",
            event.user_id,
            event.book_id,
            saved.version,
            len(chapters),
            timings["fetch_ms"],
            (stored - compiled) * 1000,
        )
        return Outcome.PROCESSED

    async def _register(self, event: CompileBook, saved: SavedBook) -> None:
        blob = await self.store.get(event.user_id, saved.blob_id)
        assert blob is not None
        await self.index.register(
            RegisterDerivedBlob(
                id=blob.id,
                user_id=event.user_id,
                processor_id=PROCESSOR_ID,
                storage_location=self.store.storage_location,
                remote_blob_id=blob.id,
                schema_id=SCHEMA_ID,
                parent_id=None,
                book_id=event.book_id,
                type="compiled-book",
                title=f"{blob.title} (v{saved.version})",
                preview=blob.preview,
                version=saved.version,
                size_bytes=int(blob.data.get("word_count", 0)),
            )
        )
        # The `book.compiled` event was queued with the version; publish it now that it is indexed.
        self.relay.notify()
