"""The processor registry as the gateway routes by it: cached, refreshed when it may have changed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec

from contracts.models import ProcessorRegistration
from gateway.fanout.sources import Source, SourceFailed
from gateway.metrics import GatewayMetrics
from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.limiter import AdaptiveLimit, Shed
from servicekit.client import ServiceClient
from servicekit.urls import url_path

_LIST = msgspec.json.Decoder(dict[str, list[ProcessorRegistration]])


class Directory:
    """Processor id -> a `Source` at its registered URL; re-read after `ttl` or on an unknown id."""

    def __init__(
        self,
        index: Source,
        clients: Callable[[str, str], ServiceClient],
        metrics: GatewayMetrics,
        *,
        ttl: float,
        breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
        limit: Callable[[str], AdaptiveLimit] = AdaptiveLimit,
    ) -> None:
        self._index = index
        self._clients = clients  # (processor id, base URL) -> a client for it
        self._metrics = metrics
        self._ttl = ttl
        self._breaker = breaker
        self._limit = limit
        self._loaded = 0.0
        self._lock = asyncio.Lock()
        self.registrations: dict[str, ProcessorRegistration] = {}
        self.sources: dict[str, Source] = {}
        self.retired: set[str] = set()  # registered, then deactivated by an operator

    def stale(self) -> None:
        """Make the next lookup re-read the registry (a processor registered, or moved)."""
        self._loaded = 0.0

    async def refresh(self, *, request_id: str = "", force: bool = False) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._loaded < self._ttl:
                return
            try:
                status, payload = await self._index.request(
                    "GET", url_path("api", "v1", "processors"), request_id=request_id, deadline=time.monotonic() + 2.0
                )
            except (SourceFailed, Shed):
                return  # keep routing by what we knew
            if status != 200:
                return
            every = _LIST.decode(payload)["processors"]
            registrations = {r.id: r for r in every if r.active}
            self.retired = {r.id for r in every if not r.active}
            for processor_id, registration in registrations.items():
                known = self.sources.get(processor_id)
                if known is None or known.base_url != registration.base_url.rstrip("/"):
                    self.sources[processor_id] = Source(
                        self._clients(processor_id, registration.base_url),
                        self._metrics,
                        breaker=self._breaker(),
                        limit=self._limit(processor_id),
                    )
            self.registrations = registrations
            self._loaded = time.monotonic()

    async def source(self, processor_id: str, *, request_id: str = "") -> Source | None:
        await self.refresh(request_id=request_id)
        if processor_id not in self.sources:
            await self.refresh(request_id=request_id, force=True)
        return self.sources.get(processor_id)

    def consuming(self, schema_id: str) -> list[str]:
        """Processors that derive a blob from each blob of `schema_id`."""
        return sorted(p for p, r in self.registrations.items() if r.derives_from(schema_id))

    def chain(self, schema_id: str) -> list[str]:
        """Processors that make one blob from each blob of `schema_id`, directly or down a chain
        of other processors' outputs, upstream first."""
        order: list[str] = []
        frontier, seen = [schema_id], {schema_id}
        while frontier:
            following: list[str] = []
            for schema in frontier:
                for processor_id in self.consuming(schema):
                    registration = self.registrations[processor_id]
                    if registration.output_scope != "blob" or processor_id in order:
                        continue
                    order.append(processor_id)
                    if registration.output_schema_id not in seen:
                        seen.add(registration.output_schema_id)
                        following.append(registration.output_schema_id)
            frontier = following
        return order

    def book_outputs(self) -> list[str]:
        """Processors that make one blob per book (a compiled book)."""
        return sorted(p for p, r in self.registrations.items() if r.output_scope == "book")

    def producing(self, schema_id: str) -> list[str]:
        return sorted(p for p, r in self.registrations.items() if r.output_schema_id == schema_id)
