"""A test's client socket: every message it is sent, kept; what it waits for; how it was closed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

Match = str | Callable[[dict[str, Any]], bool]  # a message type, or a test of a message


class Socket:
    """A client socket that keeps every message, and its close code once the server closed it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(message.json())
        self.closed.set_result(self.ws.close_code)

    async def wait_for(self, match: Match, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The messages that match, once there are `count` of them (fails if the socket closes first)."""
        test = match if callable(match) else (lambda m: m["type"] == match)
        deadline = time.monotonic() + timeout
        while len(found := [m for m in self.messages if test(m)]) < count:
            assert time.monotonic() < deadline, f"wanted {count} of {match}, got {found}; all: {self.messages[-10:]}"
            assert not self.closed.done(), f"closed ({self.closed.result()}) before {match}; got {self.messages[-10:]}"
            await asyncio.sleep(0.02)
        return found

    async def first(self, match: Match, timeout: float = 15.0) -> dict[str, Any]:
        """The first message that matches."""
        return (await self.wait_for(match, timeout=timeout))[0]

    async def close_code(self, timeout: float = 15.0) -> int | None:
        return await asyncio.wait_for(asyncio.shield(self.closed), timeout)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
