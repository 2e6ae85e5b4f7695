"""Dead letters: messages a processor gave up on, kept for an operator to list and replay.

JetStream announces a message that used up its deliveries (MAX_DELIVERIES) or was terminated
(MSG_TERMINATED) with an advisory; the `STUDIO_DLQ` stream keeps those advisories. The message
itself stays in the `STUDIO` stream. Replaying republishes it on `processor.replay.<processor>`,
which only that processor consumes, and removes the advisory from the dead-letter stream.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts.processors import DeadLetter
from contracts.subjects import STREAM_NAME, processor_replay
from servicekit.stream import ensure_stream

from .consumer import processor_of

DLQ_STREAM = "STUDIO_DLQ"
ADVISORIES = (
    f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM_NAME}.*",
    f"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{STREAM_NAME}.*",
)
REPLAY_OF_HEADER = "Studio-Replay-Of"


class _Advisory(msgspec.Struct):
    consumer: str
    stream_seq: int
    deliveries: int = 0
    type: str = ""
    reason: str = ""
    timestamp: datetime | None = None


async def ensure_dead_letter_stream(js: JetStreamContext, *, replicas: int = 1) -> None:
    await ensure_stream(
        js,
        StreamConfig(
            name=DLQ_STREAM,
            subjects=list(ADVISORIES),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=30 * 24 * 3600.0,
            num_replicas=replicas,
        ),
    )


async def dead_letters(js: JetStreamContext, processor_id: str | None = None) -> list[DeadLetter]:
    """Every dead letter still to be dealt with, oldest first."""
    state = (await js.stream_info(DLQ_STREAM)).state
    found: list[DeadLetter] = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        try:
            raw = await js.get_msg(DLQ_STREAM, seq)
        except NotFoundError:
            continue  # replayed and removed
        advisory = msgspec.json.decode(raw.data or b"{}", type=_Advisory)
        owner = processor_of(advisory.consumer)
        if processor_id is not None and owner != processor_id:
            continue
        try:
            original = await js.get_msg(STREAM_NAME, advisory.stream_seq)
            subject = original.subject or ""
        except NotFoundError:
            subject = "(no longer in the stream)"
        reason = advisory.reason or ("terminated" if "terminated" in advisory.type else "max deliveries reached")
        found.append(
            DeadLetter(
                dlq_seq=seq,
                stream_seq=advisory.stream_seq,
                consumer=advisory.consumer,
                processor_id=owner,
                reason=reason,
                deliveries=advisory.deliveries,
                subject=subject,
                occurred_at=advisory.timestamp,
            )
        )
    return found


async def replay(js: JetStreamContext, letters: list[DeadLetter]) -> int:
    """Deliver each dead letter's message to its processor again; returns how many were replayed."""
    replayed = 0
    for letter in letters:
        try:
            original = await js.get_msg(STREAM_NAME, letter.stream_seq)
        except NotFoundError:
            continue
        await js.publish(
            processor_replay(letter.processor_id),
            original.data or b"",
            headers={
                "Nats-Msg-Id": f"replay-{letter.stream_seq}-{uuid.uuid4().hex}",
                REPLAY_OF_HEADER: str(letter.stream_seq),
            },
        )
        await js.delete_msg(DLQ_STREAM, letter.dlq_seq)
        replayed += 1
    return replayed
