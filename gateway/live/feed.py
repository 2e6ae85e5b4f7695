"""One ordered consumer over a stream's new messages, as the gateway's live feeds read them."""

from __future__ import annotations

from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from servicekit.stream import unsubscribe_quietly


class StreamFeed:
    """Hands every new message of `stream` (matching `subject`) to `handle`, in stream order."""

    def __init__(self, js: JetStreamContext, *, stream: str, subject: str) -> None:
        self.js = js
        self.stream = stream
        self.subject = subject
        self._subscription: Any = None

    async def start(self) -> None:
        # One ordered consumer over the whole subject keeps one order of sequence numbers.
        self._subscription = await self.js.subscribe(
            self.subject,
            stream=self.stream,
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )

    async def stop(self) -> None:
        await unsubscribe_quietly(self._subscription)

    async def _on_message(self, msg: Msg) -> None:
        self.handle(msg.subject, msg.data, msg.metadata.sequence.stream, msg.headers)

    def handle(self, subject: str, data: bytes, seq: int, headers: dict[str, str] | None = None) -> None:
        raise NotImplementedError
