"""Places for sections being written, given to the newest draft first.

A writer watches the draft they saved last. When more sections wait than there are places (a
backlog after an import, a hundred writers saving), a FIFO queue makes the newest draft wait for
all the old ones; here a freed place goes to a section of the most recently started draft, and
the backlog is worked through when nothing newer waits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class NewestFirst:
    """At most `places` holders at once; waiters are let in by ticket, the highest (newest) first."""

    def __init__(self, places: int) -> None:
        self.places = places
        self._free = places
        self._tickets = itertools.count(1)
        self._order = itertools.count()  # sections of one draft go in the order they asked
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []

    def ticket(self) -> int:
        """A draft's ticket: taken when its expansion starts, higher than every earlier one."""
        return next(self._tickets)

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiting if not future.done())

    @asynccontextmanager
    async def place(self, ticket: int) -> AsyncIterator[None]:
        if self._free > 0 and not self.waiting:
            self._free -= 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (-ticket, next(self._order), future))
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # a place was handed over as it was cancelled: hand it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiting:
            *_, future = heapq.heappop(self._waiting)
            if not future.done():  # a cancelled waiter's entry is dropped here
                future.set_result(None)  # the place passes on: it stays taken
                return
        self._free += 1
