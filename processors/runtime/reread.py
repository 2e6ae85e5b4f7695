"""What a processor reads besides its inputs (`info.reads`): fetched for each derivation, and
followed when it changes, to make again exactly the outputs that used it or would use it now."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, cast

from cachetools import LRUCache

from contracts.events import BlobChanged, BlobDeleted
from contracts.models import AwaitInput, InputUsed, UserBlob

from .base import Outcome, ReadingProcessor, Source
from .errors import Superseded

if TYPE_CHECKING:
    from .handler import DerivingHandler

log = logging.getLogger(__name__)


CACHED = 10_000  # (user, book) pairs whose reads an instance remembers
AT_ONCE = 16  # outputs made again at once for one change (their sections share the model's places)
CACHE_SECONDS = 60.0  # the longest a remembered read is used: a missed change notice is bounded by it


class Reread:
    """The reads of one deriving handler: the edges the index records, followed on a change.

    What a book's derivations read is remembered per instance (most writers' books have no entry,
    and every save derives): every instance forgets a user's reads as soon as a change of one is
    published (`forget`, from a plain subscription all instances see), a derivation made again
    because of a change reads afresh, and nothing is used longer than CACHE_SECONDS.
    """

    def __init__(self, handler: DerivingHandler) -> None:
        self.handler = handler
        self._cache: LRUCache[tuple[str, str | None], tuple[float, dict[str, tuple[Source, ...]]]] = LRUCache(
            maxsize=CACHED
        )

    def forget(self, user_id: str) -> None:
        for key in [k for k in self._cache if k[0] == user_id]:
            self._cache.pop(key, None)

    async def reads_for(self, source: Source, *, fresh: bool = False) -> dict[str, tuple[Source, ...]]:
        """The blobs of each read schema that apply to `source`'s book (its own, and every book's)."""
        key = (source.user_id, source.book_id)
        held = self._cache.get(key)
        if held is not None and not fresh and time.monotonic() - held[0] < CACHE_SECONDS:
            return held[1]
        index = self.handler.index
        found = {
            schema_id: await index.reads(source.user_id, schema_id, source.book_id)
            for schema_id in self.handler.processor.info.reads
        }
        self._cache[key] = (time.monotonic(), found)
        return found

    async def changed(self, event: BlobChanged | BlobDeleted) -> Outcome:
        """A read blob was made, changed or deleted: derive again from the current version of each
        source whose output used it (the index's edges) or, made or changed, would use it now."""
        handler = self.handler
        info = handler.processor.info
        user_id = event.user_id
        parents = {e.parent_id for e in await handler.index.used_by(user_id, event.blob_id, info.id) if e.parent_id}
        if isinstance(event, BlobChanged):
            read = await handler.index.source(user_id, event.blob_id)
            if read is not None and read.version > event.version:
                return Outcome.SUPERSEDED  # the newer version's event does it
            if read is not None and hasattr(handler.processor, "would_use"):
                candidates = await self._sources_near(user_id, read.book_id)
                new = set(cast(ReadingProcessor, handler.processor).would_use(read, candidates)) - parents
                if new:
                    # No edge names it yet: views show those outputs stale (it "is new") until made again.
                    await handler.index.await_input(
                        AwaitInput(
                            user_id=user_id,
                            processor_id=info.id,
                            input=InputUsed(blob_id=read.id, version=read.version),
                            parent_ids=sorted(new)[:1000],
                        )
                    )
                parents |= new
        places = asyncio.Semaphore(AT_ONCE)

        async def again(parent_id: str) -> bool:
            async with places:
                source = await handler.index.source(user_id, parent_id)
                if source is None or source.schema_id not in info.input_schema_ids:
                    return False
                try:
                    await handler.derive(source, refresh=True)
                except Superseded as exc:
                    log.info("%s", exc)  # the source's newer version is derived with the new reads
                    return False
                return True

        made = sum(await asyncio.gather(*(again(p) for p in sorted(parents))))
        log.info("%s %s: %d output(s) made again", event.schema_id, event.blob_id, made)
        return Outcome.PROCESSED if made else Outcome.SKIPPED

    async def _sources_near(self, user_id: str, book_id: str | None) -> list[Source]:
        """The processor's input blobs that a read blob filed under `book_id` can apply to: that
        book's drafts, or with no book (every book) all the user's."""
        index = self.handler.index
        inputs = self.handler.processor.info.input_schema_ids
        book_ids = [book_id] if book_id is not None else [b.book_id for b in await index.books(user_id)]
        found: list[Source] = []
        for one in book_ids:
            book = await index.book(user_id, one, with_drafts=True)
            found += [_as_source(d) for d in (book.drafts or []) if d.schema_id in inputs] if book else []
        return found


def _as_source(blob: UserBlob) -> Source:
    return Source(
        id=blob.id,
        user_id=blob.user_id,
        schema_id=blob.schema_id,
        version=blob.version,
        data=blob.data,
        book_id=blob.book_id,
        chapter=blob.chapter,
    )
