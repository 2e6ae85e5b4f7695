"""Where a compile reads from: the index service (the book, its drafts) and text expansion."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
import msgspec

from contracts.processors import DerivedBatchRequest
from processors.index_client import IndexClient
from servicekit.urls import upstream_url, url_path

log = logging.getLogger(__name__)
REGISTRY_TTL_SECONDS = 30.0


class ExpansionSource:
    """Text expansion's batch call, at the URL its registry entry gives (looked up, then cached)."""

    def __init__(
        self, index: IndexClient, session: aiohttp.ClientSession, token: str, *, processor_id: str, timeout: float
    ) -> None:
        self._index = index
        self._session = session
        self._headers = {"Authorization": f"Bearer {token}"}
        self._processor_id = processor_id
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._url: str | None = None
        self._looked_up = 0.0

    async def _base_url(self) -> str | None:
        if self._url is None or time.monotonic() - self._looked_up > REGISTRY_TTL_SECONDS:
            registration = await self._index.processor(self._processor_id)
            self._url = registration.base_url if registration and registration.active else None
            self._looked_up = time.monotonic()
        return self._url

    async def batch(self, user_id: str, ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """The expansions by id, in one call; None when text expansion cannot be asked."""
        if not ids:
            return {}
        try:
            base = await self._base_url()
            if base is None:
                return None
            body = msgspec.json.encode(DerivedBatchRequest(user_id=user_id, ids=ids))
            async with self._session.post(
                upstream_url(base, url_path("blobs", "batch")),
                data=body,
                headers={**self._headers, "Content-Type": "application/json"},
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    log.warning("text expansion answered %s to a batch of %d", response.status, len(ids))
                    return None
                payload = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("text expansion did not answer (%s); compiling from drafts", type(exc).__name__)
            return None
        return {b["id"]: b for b in msgspec.json.decode(payload)["blobs"]}
