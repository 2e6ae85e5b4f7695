"""Assembled book views, kept until an event says they changed, and built once for many callers.

Views are dropped by the events the gateway receives for their user (created, updated, deleted,
derived, compiled), never by age alone. A view being assembled when such an event arrives is not
kept: every invalidation stamps the user with a counter, and a build that started before the
stamp is thrown away after it has answered its callers, so no view older than an event the
gateway has seen is ever served again. A build that says its view is incomplete (a piece pending,
stale, missing or unavailable) is not kept either: no event may come to replace it. Identical
concurrent requests share one build; a fresh read (no cache, or a consistency token the gateway
has not caught up with) shares only a build that began after it arrived.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import LRUCache

Key = tuple[str, str, str, bool]  # (user id, book id, the processors asked for ("" for all), with `expanded`)


@dataclass(frozen=True)
class Cached:
    body: bytes
    stored_at: float


@dataclass(frozen=True)
class Served:
    body: bytes
    source: str  # hit | miss | shared | bypass
    age: float  # seconds since the view was assembled


@dataclass(eq=False)
class _Flight:
    """A view being built: when it started, and the answer its callers wait for."""

    started: float  # time.monotonic()
    future: asyncio.Future[bytes]


class ViewCache:
    def __init__(self, maxsize: int = 10_000) -> None:
        self._views: LRUCache[Key, Cached] = LRUCache(maxsize=maxsize)
        self._stamps: LRUCache[str, int] = LRUCache(maxsize=max(maxsize * 10, 1000))
        self._counter = itertools.count(1)
        self._clock = 0
        self._flights: dict[Key, _Flight] = {}  # the newest build of each view
        self._everyone = 0  # the clock when every view was last forgotten

    def invalidate(self, user_id: str) -> None:
        """Forget every view of `user_id`; builds under way for them will not be kept."""
        self._clock = next(self._counter)
        self._stamps[user_id] = self._clock
        for key in [k for k in self._views.keys() if k[0] == user_id]:
            self._views.pop(key, None)

    def __len__(self) -> int:
        return len(self._views)

    def invalidate_all(self) -> None:
        """Forget every view (a processor joined or left: every book looks different)."""
        self._clock = next(self._counter)
        self._everyone = self._clock
        self._views.clear()

    async def get(self, key: Key, build: Callable[[], Awaitable[tuple[bytes, bool]]], *, fresh: bool = False) -> Served:
        """The cached view, or one build shared by every caller asking meanwhile.

        `fresh`: no cached view, and no build that began before this call (it may have read the
        stores before the caller's write): fresh means fresh. Such a caller shares a build that
        began after it arrived; while an older build runs, it waits for that one to end and shares
        the next, so a crowd of fresh readers costs one build at a time, not one build each."""
        arrived = time.monotonic()
        if not fresh:
            cached = self._views.get(key)
            if cached is not None:
                return Served(cached.body, "hit", time.monotonic() - cached.stored_at)
        while (flight := self._flights.get(key)) is not None:
            if not fresh or flight.started >= arrived:
                return Served(await asyncio.shield(flight.future), "shared", 0.0)
            await asyncio.wait([flight.future])  # an older build: the next one starts after it
        return Served(await self._build(key, build), "bypass" if fresh else "miss", 0.0)

    async def _build(self, key: Key, build: Callable[[], Awaitable[tuple[bytes, bool]]]) -> bytes:
        started_at = self._clock
        flight = _Flight(time.monotonic(), asyncio.get_running_loop().create_future())
        self._flights[key] = flight
        try:
            body, complete = await build()
        except asyncio.CancelledError:
            flight.future.cancel()
            raise
        except Exception as exc:
            flight.future.set_exception(exc)
            flight.future.exception()  # retrieved here: the callers that shared it get it, nobody else needs it
            raise
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.future.set_result(body)
        self._keep(key, body, complete, started_at)
        return body

    def _keep(self, key: Key, body: bytes, complete: bool, started_at: int) -> None:
        """Cache a complete view, unless its user's data changed while it was being built."""
        if complete and max(self._stamps.get(key[0], 0), self._everyone) <= started_at:
            self._views[key] = Cached(body, time.monotonic())
