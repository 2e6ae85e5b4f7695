"""Polling helpers for what happens asynchronously (events, processors)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, timeout: float = 20.0, what: str = ""
) -> T:
    """Call `probe` until `done(result)`; fail with the last result after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a condition'}; last: {result!r}"[:2000])
        await asyncio.sleep(0.1)


async def index_entries(internal: aiohttp.ClientSession, user_id: str, **filters: str) -> list[dict[str, Any]]:
    async with internal.get("/api/v1/blob-index", params={"user_id": user_id, **filters}) as response:
        assert response.status == 200, await response.text()
        return list((await response.json())["entries"])


async def answered(
    session: aiohttp.ClientSession, url: str, *, headers: dict[str, str] | None = None, timeout: float = 20.0
) -> tuple[int, Any, dict[str, str]]:
    """`GET url` as a well-behaved client makes it: a 503 with `Retry-After` (overload, never a
    failure) is asked again after the time it gives; the status, JSON body and headers of the answer."""
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(url, headers=headers) as response:
            body = await response.json(content_type=None)
            retry = response.headers.get("Retry-After")
            if response.status != 503 or retry is None or time.monotonic() > deadline:
                return response.status, body, dict(response.headers)
        await asyncio.sleep(min(float(retry), 1.0))
