"""The pitch builder's handler: the runtime's deriving handler, and the books' compiles it follows."""

from __future__ import annotations

import logging

from contracts import subjects
from contracts.events import AnyEvent, BookCompiled
from processors.runtime.base import Handler, Outcome

from .store import PitchStore

log = logging.getLogger(__name__)


class FollowsCompiles:
    """Derives pitches as the runtime does; also keeps each book's newest compiled word count, and
    marks the pitches that stated another count stale."""

    def __init__(self, deriving: Handler, store: PitchStore) -> None:
        self.deriving = deriving
        self.store = store

    def subjects(self) -> list[str]:
        return [*self.deriving.subjects(), subjects.BOOK_COMPILED]

    async def start(self) -> None:
        await self.deriving.start()

    async def stop(self) -> None:
        await self.deriving.stop()

    async def handle(self, event: AnyEvent, *, attempt: int = 1) -> Outcome:
        if not isinstance(event, BookCompiled):
            return await self.deriving.handle(event, attempt=attempt)
        marked = await self.store.record_compile(event.user_id, event.book_id, event.version, event.word_count)
        if marked:
            log.info(
                "book %s/%s v%d: %d pitch(es) now state an old length",
                event.user_id,
                event.book_id,
                event.version,
                marked,
            )
        return Outcome.PROCESSED
