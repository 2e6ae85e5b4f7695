"""Reading another processor's blobs through its query API: the input of a processor down a chain.

A processor that consumes another's output (the summary of an expansion) gets its input from the
processor that holds it, found in the registry, with the same batch call the gateway makes.
"""

from __future__ import annotations

import time

import aiohttp
import msgspec

from contracts.events import BlobChanged
from contracts.processors import DerivedBatch, DerivedBatchRequest
from servicekit.bodies import encode
from servicekit.urls import upstream_url, url_path

from .base import Source
from .errors import PermanentError, RetryableError
from .index_client import IndexClient, without_nul

REGISTRY_TTL = 30.0


class PeerUnavailable(RetryableError):
    code, title = "peer-unavailable", "The processor that holds the input did not answer"


class Peers:
    """Other processors, by id, at the address the registry gives."""

    def __init__(
        self, session: aiohttp.ClientSession, index: IndexClient, token: str, *, timeout: float = 10.0
    ) -> None:
        self._session = session
        self._index = index
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._addresses: dict[str, tuple[float, str]] = {}

    async def _address(self, processor_id: str) -> str:
        known = self._addresses.get(processor_id)
        if known is not None and time.monotonic() - known[0] < REGISTRY_TTL:
            return known[1]
        registration = await self._index.processor(processor_id)
        if registration is None:
            raise PermanentError(f"processor {processor_id} is not in the registry")
        self._addresses[processor_id] = (time.monotonic(), registration.base_url)
        return registration.base_url

    async def source(self, event: BlobChanged) -> Source | None:
        """The blob the event announces, from the processor that holds it; None when it is gone."""
        base = await self._address(event.processor_id)
        body = DerivedBatchRequest(user_id=event.user_id, ids=[event.blob_id])
        try:
            async with self._session.post(
                upstream_url(base, url_path("blobs", "batch")),
                data=encode(body),
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                payload = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._addresses.pop(event.processor_id, None)  # it may have moved
            raise PeerUnavailable(f"{event.processor_id}: {type(exc).__name__}: {exc}") from exc
        if response.status >= 500 or response.status in (401, 429):
            raise PeerUnavailable(f"{event.processor_id} answered {response.status}")
        if response.status != 200:
            raise PermanentError(f"{event.processor_id} refused blob {event.blob_id}: {response.status}")
        found = msgspec.json.decode(payload, type=DerivedBatch).blobs
        if not found:
            return None
        blob = found[0]
        return Source(
            id=blob.id,
            user_id=blob.user_id,
            schema_id=blob.schema_id,
            version=blob.version,
            data=without_nul(blob.data),
            title=blob.title,
            book_id=event.book_id or blob.book_id,
            chapter=event.chapter,
        )
