"""The gateway's own view of the stream: every instance subscribes itself, so several gateways
behind a load balancer each serve their own sockets, and each keeps its own cache correct."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts import subjects
from contracts.events import BlobCreated
from contracts.subjects import STREAM_NAME
from gateway.fanout.cache import ViewCache
from gateway.fanout.consistency import Seen
from gateway.fanout.registry import Directory
from gateway.live.feed import StreamFeed
from gateway.live.hub import Connection, Hub, client_message
from gateway.metrics import GatewayMetrics
from servicekit.tracing import SpanKind, Tracer, span

log = logging.getLogger(__name__)
MAX_RESUME = 2000  # a client further behind than this reloads instead
CLIENT_SUBJECTS = ("blob.", "book.compiled", "book.updated", "processor.failed.")


class LiveEvents(StreamFeed):
    def __init__(
        self,
        js: JetStreamContext,
        hub: Hub,
        cache: ViewCache,
        directory: Directory,
        metrics: GatewayMetrics,
        *,
        tracer: Tracer,
    ) -> None:
        super().__init__(js, stream=STREAM_NAME, subject=">")
        self.tracer = tracer
        self.seen = Seen()
        self.hub = hub
        self.cache = cache
        self.directory = directory
        self.metrics = metrics

    def handle(self, subject: str, data: bytes, seq: int, headers: dict[str, str] | None = None) -> None:
        """Invalidate what the event changes, and tell the user's sockets."""
        self.hub.last_seq = max(self.hub.last_seq, seq)
        if subject.startswith(("processor.registered.", "processor.activated.", "processor.deactivated.")):
            self.directory.stale()  # a processor came up (perhaps at a new address), or was retired or brought back
            self.cache.invalidate_all()  # and views may now show (or stop showing) what it makes
            return
        if not subject.startswith(CLIENT_SUBJECTS):
            return
        try:
            event = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return
        if not isinstance(event, dict):
            return
        self.metrics.events.labels(str(event.get("event", "unknown"))).inc()
        user_id = event.get("user_id")
        if isinstance(user_id, str):
            self.cache.invalidate(user_id)
            occurred_at = event.get("occurred_at")
            if isinstance(occurred_at, str):
                self.seen.saw(user_id, occurred_at)  # after the invalidation: a token is met by a fresh cache
                with contextlib.suppress(ValueError):
                    self.metrics.event_age.observe(
                        max(0.0, time.time() - datetime.fromisoformat(occurred_at).timestamp())
                    )
        if subject.startswith("blob.created.") and event.get("processor_id") not in (None, "user"):
            # A derived blob of a processor we may not know yet: look at the registry again soon.
            if event.get("processor_id") not in self.directory.registrations:
                self.directory.stale()
        message = client_message(subject, event, seq)
        if message is None:
            return
        if headers is None or "traceparent" not in headers:
            self.hub.deliver(message[0], message[1], seq)
            return
        # The last hop of the write's trace: the event handed to its user's sockets here.
        with span(
            self.tracer,
            f"deliver {subject}",
            kind=SpanKind.CONSUMER,
            parent=headers,
            **{
                "messaging.system": "nats",
                "messaging.message.id": str(event.get("event_id", "")),
                "studio.event_seq": seq,
                "studio.sockets": len(self.hub.by_user.get(message[0], ())),
            },
        ):
            self.hub.deliver(message[0], message[1], seq)

    async def replay(self, connection: Connection, after: int) -> bool:
        """Send `connection` its user's events after sequence `after`, up to what live delivery
        has reached; False when it is too far behind to replay (the client should reload)."""
        until = self.hub.last_seq
        if until - after > MAX_RESUME:
            return False
        for seq in range(after + 1, until + 1):
            try:
                raw = await self.js.get_msg(STREAM_NAME, seq)
            except NotFoundError:
                continue
            if not (raw.subject or "").startswith(CLIENT_SUBJECTS):
                continue
            try:
                event = msgspec.json.decode(raw.data or b"{}")
            except msgspec.DecodeError:
                continue
            message = client_message(raw.subject or "", event, seq) if isinstance(event, dict) else None
            if message is not None and message[0] == connection.user_id:
                await connection.socket.send_str(message[1])
        return True

    async def request_repair(self, processor_id: str, parent: dict[str, Any], derived_id: str) -> None:
        """Ask a processor to make a missing derived blob again, from its parent's current version.

        The request goes to that processor alone (its replay subject); the message id makes
        repeated requests for the same blob within the de-duplication window count once.
        """
        event = BlobCreated(
            event_id=uuid.uuid4().hex,
            user_id=parent["user_id"],
            blob_id=parent["id"],
            schema_id=parent["schema_id"],
            version=parent["version"],
            occurred_at=datetime.now(UTC),
            processor_id="user",
            book_id=parent.get("book_id"),
            chapter=parent.get("chapter"),
        )
        try:
            await self.js.publish(
                subjects.processor_replay(processor_id),
                msgspec.json.encode(event),
                headers={"Nats-Msg-Id": f"repair-{derived_id}-v{parent['version']}"},
            )
            log.warning("%s is missing %s; asked it to make it again", processor_id, derived_id)
        except Exception as exc:  # the view still answers; the next view asks again
            log.warning("could not request a repair of %s: %s", derived_id, exc)
