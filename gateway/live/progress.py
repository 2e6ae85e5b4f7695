"""Derivations in flight as the gateway sees them: the progress stream, to sockets and to late readers.

Every gateway reads the whole progress stream and hands each message to its owner's sockets. A
socket that reconnects with the last `progress_id` it saw gets what it missed from the stream
(filtered by its user, so it reads nobody else's); a client that opens a blob late gets the
partial text so far with the blob.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import msgspec
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts import subjects
from contracts.subjects import PROGRESS_STREAM
from gateway.live.feed import StreamFeed
from gateway.live.hub import Connection, Hub, progress_message
from gateway.metrics import GatewayMetrics
from servicekit.stream import unsubscribe_quietly

log = logging.getLogger(__name__)
MAX_REPLAY = 20_000  # progress messages one resume may read; past that the client reads the blob instead
READ_TIMEOUT = 2.0


@dataclass
class Partial:
    """A derivation's partial output put together from its progress messages."""

    processor: str
    derived_id: str
    parent_version: int
    attempt: int
    sections: int
    texts: dict[int, str] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    progress_id: int = 0

    def add(self, body: dict[str, Any]) -> None:
        section = int(body["section"])
        if body.get("restart"):
            self.texts[section] = ""
            self.done.discard(section)
        self.texts[section] = self.texts.get(section, "") + str(body.get("delta", ""))
        if body.get("done"):
            self.done.add(section)
        self.sections = max(self.sections, int(body.get("sections", 1)))
        self.progress_id = max(self.progress_id, int(body["progress_id"]))

    def view(self) -> dict[str, Any]:
        """What `GET /api/v1/blobs/{id}` shows of it."""
        return {
            "processor": self.processor,
            "derived_id": self.derived_id,
            "parent_version": self.parent_version,
            "attempt": self.attempt,
            "sections": self.sections,
            "sections_done": len(self.done),
            "text": "\n\n".join(self.texts[i].strip() for i in sorted(self.texts)),
            "progress_id": self.progress_id,
        }


class ProgressFeed(StreamFeed):
    def __init__(self, js: JetStreamContext, hub: Hub, metrics: GatewayMetrics) -> None:
        super().__init__(js, stream=PROGRESS_STREAM, subject="progress.>")
        self.hub = hub
        self.metrics = metrics

    def handle(self, subject: str, data: bytes, seq: int, headers: dict[str, str] | None = None) -> None:
        self.hub.last_progress_seq = max(self.hub.last_progress_seq, seq)
        message = _decode(data, seq)
        if message is not None:
            self.metrics.progress.inc()
            self.hub.deliver_progress(message[0], message[1], seq)

    async def replay(self, connection: Connection, after: int) -> bool:
        """Send `connection` its user's progress after `after`, up to what live delivery has reached;
        later messages come live. False when there was too much to replay."""
        until = self.hub.last_progress_seq
        connection.progress_after = until
        if until <= after:
            return True
        sent = 0
        for body in await self._read(subjects.user_progress(connection.user_id), after + 1, until):
            await connection.socket.send_str(msgspec.json.encode(body).decode())
            sent += 1
            if sent >= MAX_REPLAY:
                return False
        return True

    async def in_flight(self, user_id: str, blob_id: str, version: int, made: set[str]) -> list[dict[str, Any]]:
        """The derivations of `blob_id` at `version` in flight now, except those of processors in `made`."""
        subject = subjects.blob_progress(user_id, blob_id)
        try:
            last = await self.js.get_last_msg(PROGRESS_STREAM, subject)
        except NotFoundError:
            return []  # nothing streamed for this blob lately: the usual case, one lookup
        if last.seq is None:
            return []
        runs: dict[str, Partial] = {}
        for body in await self._read(subject, 1, last.seq):
            processor = str(body.get("processor"))
            if body.get("parent_version") != version or processor in made:
                continue
            run = runs.get(processor)
            attempt = int(body.get("attempt", 1))
            if run is not None and attempt < run.attempt:
                continue  # an older attempt's message: the work started over since
            if run is None or attempt > run.attempt:
                run = runs[processor] = Partial(
                    processor, str(body["derived_id"]), version, attempt, int(body.get("sections", 1))
                )
            run.add(body)
        return [r.view() for r in runs.values() if len(r.done) < r.sections]

    async def working(self, user_id: str, items: list[tuple[str, int, str]]) -> set[tuple[str, str]]:
        """Which of (blob, version, processor) have work on the progress stream for that version (the
        index still saying pending means it is not finished): one request each, all at once."""

        async def look(blob_id: str, version: int, processor: str) -> tuple[str, str] | None:
            try:
                last = await self.js.get_last_msg(PROGRESS_STREAM, subjects.progress(user_id, blob_id, processor))
            except NotFoundError:
                return None
            message = _decode(last.data or b"", last.seq or 0)
            return (blob_id, processor) if message is not None and message[1].get("parent_version") == version else None

        found = await asyncio.gather(*(look(*item) for item in items))
        return {f for f in found if f is not None}

    async def _read(self, subject: str, start: int, until: int) -> list[dict[str, Any]]:
        """The client messages of `subject` from sequence `start` to `until` (both included), oldest first."""
        found: list[dict[str, Any]] = []
        subscription = await self.js.subscribe(
            subject,
            stream=PROGRESS_STREAM,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, start)),
        )
        try:
            # A push consumer may have sent everything before we ask, so `num_pending` alone can
            # read 0 with messages waiting in our buffer; `delivered` tells those apart.
            info = await subscription.consumer_info()
            if not info.num_pending and not (info.delivered is not None and info.delivered.consumer_seq):
                return found  # nothing of this subject from `start` on
            while len(found) < MAX_REPLAY:
                try:
                    msg = await subscription.next_msg(timeout=READ_TIMEOUT)
                except TimeoutError:
                    break
                seq = msg.metadata.sequence.stream
                if seq > until:
                    break  # live delivery has it
                message = _decode(msg.data, seq)
                if message is not None:
                    found.append(message[1])
                if seq == until or not msg.metadata.num_pending:
                    break
        finally:
            await unsubscribe_quietly(subscription)
        return found


def _decode(data: bytes, seq: int) -> tuple[str, dict[str, Any]] | None:
    try:
        event = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    return progress_message(event, seq) if isinstance(event, dict) else None
