"""Other processors, found in the registry: where a processor reads what another one made.

A processor that consumes another's output (the summary of an expansion) gets its input from the
processor that holds it, with the federation's batch call; the book compiler reads expansions the
same way. Addresses come from the registry and are kept a while (`REGISTRY_TTL_SECONDS`).
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import msgspec

from contracts.events import BlobChanged
from contracts.processors import DerivedBatchRequest, DerivedBlob
from servicekit.client import ServiceClient, ServiceFailed, ServiceUnavailable
from servicekit.urls import url_path

from .base import Source
from .errors import PermanentError, RetryableError
from .index_client import IndexClient, without_nul

REGISTRY_TTL_SECONDS = 30.0
BATCH_PATH = url_path("blobs", "batch")


class PeerUnavailable(RetryableError):
    code, title = "peer-unavailable", "The processor that holds the input did not answer"


class Peers:
    """Other processors, by id, at the address the registry gives."""

    def __init__(
        self, index: IndexClient, session: aiohttp.ClientSession, token: str, *, timeout: float = 10.0
    ) -> None:
        self._index = index
        self._session = session
        self._token = token
        self._timeout = timeout
        self._known: dict[str, tuple[float, ServiceClient | None, bool]] = {}  # id -> (looked up, client, active)

    async def client(self, processor_id: str, *, active_only: bool = False) -> ServiceClient | None:
        """A client for a registered processor (an active one, if asked); None when there is none."""
        known = self._known.get(processor_id)
        if known is None or time.monotonic() - known[0] >= REGISTRY_TTL_SECONDS:
            registration = await self._index.processor(processor_id)
            client = None
            if registration is not None:
                client = ServiceClient(
                    self._session,
                    name=processor_id,
                    base_url=registration.base_url,
                    token=self._token,
                    timeout=self._timeout,
                )
            known = self._known[processor_id] = (
                time.monotonic(),
                client,
                registration is not None and registration.active,
            )
        _, client, active = known
        return client if active or not active_only else None

    async def batch(
        self,
        processor_id: str,
        user_id: str,
        ids: list[str],
        *,
        active_only: bool = False,
        timeout: float | None = None,
    ) -> dict[str, dict[str, Any]]:
        """The blobs a processor holds, by id (those it does not hold are left out). PermanentError
        when it is not registered (or not active, if asked) or refuses; PeerUnavailable when it
        does not answer."""
        client = await self.client(processor_id, active_only=active_only)
        if client is None:
            raise PermanentError(
                f"processor {processor_id} is not in the registry" + (" or retired" if active_only else "")
            )
        try:
            found, _ = await client.batch(BATCH_PATH, DerivedBatchRequest(user_id=user_id, ids=ids), timeout=timeout)
        except ServiceUnavailable as exc:
            self._known.pop(processor_id, None)  # it may have moved
            raise PeerUnavailable(str(exc)) from exc
        except ServiceFailed as exc:
            if exc.answer is None or exc.answer.status >= 500:
                raise PeerUnavailable(str(exc)) from exc
            raise PermanentError(f"{processor_id} refused a batch: {exc.answer.status}") from exc
        return found

    async def source(self, event: BlobChanged) -> Source | None:
        """The blob the event announces, from the processor that holds it; None when it is gone."""
        found = await self.batch(event.processor_id, event.user_id, [event.blob_id])
        if event.blob_id not in found:
            return None
        blob = msgspec.convert(found[event.blob_id], DerivedBlob)
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
