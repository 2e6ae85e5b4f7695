"""Processors' writes take turns for a few places; writers' own writes never wait here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge


class ProcessorLane:
    """At most `places` processor writes reach the database at once; the others wait in the index.

    Writes to one collection serialise in the database, so whatever is queued there is queued in
    front of the next writer's save too. Kept here instead, a save waits behind `places` of them."""

    def __init__(self, places: int, registry: CollectorRegistry) -> None:
        self._places = asyncio.Semaphore(places)
        self.waited = Counter(
            "studio_index_processor_writes_waited",
            "Processor writes that found every place taken and waited",
            registry=registry,
        )
        self.waiting = Gauge(
            "studio_index_processor_writes_waiting", "Processor writes waiting for a place now", registry=registry
        )

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold a place for the write inside the block."""
        if self._places.locked():
            self.waited.inc()
        self.waiting.inc()
        try:
            await self._places.acquire()
        finally:
            self.waiting.dec()
        try:
            yield
        finally:
            self._places.release()
