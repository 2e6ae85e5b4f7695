"""Watch the STUDIO stream from a test: an ordered consumer that keeps what it sees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerInfo, DeliverPolicy


class Seen:
    """What the stream delivered: subject, headers and decoded payload of each message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._arrived = asyncio.Event()

    async def on_message(self, msg: Msg) -> None:
        self.messages.append((msg.subject, dict(msg.headers or {}), msgspec.json.decode(msg.data)))
        self._arrived.set()

    def matching(
        self, predicate: Callable[[str, dict[str, Any]], bool]
    ) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        return [m for m in self.messages if predicate(m[0], m[2])]

    async def wait_for(
        self, predicate: Callable[[str, dict[str, Any]], bool], count: int = 1, timeout: float = 10.0
    ) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(found := self.matching(predicate)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {count} matching events, saw {len(found)}: {found}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=remaining)
            except TimeoutError:
                pass
        return found


async def watch(nc: Client, subject: str = "blob.>", *, policy: DeliverPolicy = DeliverPolicy.NEW) -> Seen:
    seen = Seen()
    await nc.jetstream().subscribe(subject, cb=seen.on_message, ordered_consumer=True, deliver_policy=policy)
    return seen


async def consumer(nats_url: str, durable: str) -> ConsumerInfo | None:
    """A durable consumer as JetStream sees it now (None before it exists): `num_pending` is what
    waits undelivered (an event reached a processor that is not taking it), `num_waiting` the
    pulls outstanding (its processor is consuming)."""
    from nats import connect
    from nats.js.errors import NotFoundError

    from contracts.subjects import STREAM_NAME

    nc = await connect(nats_url)
    try:
        return await nc.jetstream().consumer_info(STREAM_NAME, durable)
    except NotFoundError:
        return None
    finally:
        await nc.drain()
