"""Partial output as it is made: `blob.progress` messages on the progress stream.

A transform reports what it writes through a `Progress`; the runtime's `StreamProgress` gathers
the text of each section for a short interval and publishes it as one message per section, in
order, so a model writing 50 tokens a second costs a few messages a second, not fifty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import msgspec
from nats.js import JetStreamContext

from contracts import subjects
from contracts.events import BlobProgress

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.25  # a quarter second reads as streaming, at a fifth of the messages 50 ms made


class Progress(Protocol):
    """What a streaming transform tells while it works; none of it waits."""

    def begin(self, sections: int) -> None: ...
    def started(self, section: int) -> None: ...
    def delta(self, section: int, text: str) -> None: ...
    def restart(self, section: int) -> None: ...
    def done(self, section: int) -> None: ...
    async def flush(self) -> None: ...
    async def close(self) -> None: ...


class NoProgress:
    """Tells nobody: for transforms run without a stream (tests, benchmarks, batch jobs)."""

    def begin(self, sections: int) -> None:
        return None

    def started(self, section: int) -> None:
        return None

    def delta(self, section: int, text: str) -> None:
        return None

    def restart(self, section: int) -> None:
        return None

    def done(self, section: int) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass
class _Pending:
    text: list[str] = field(default_factory=list)
    done: bool = False
    restart: bool = False


@dataclass(frozen=True)
class Derivation:
    """Which derivation the messages are about."""

    user_id: str
    parent_id: str
    parent_version: int
    derived_id: str
    processor_id: str
    attempt: int


class StreamProgress:
    """Publishes one derivation's progress, coalesced every `interval` seconds, in order."""

    def __init__(self, js: JetStreamContext, derivation: Derivation, *, interval: float = FLUSH_SECONDS) -> None:
        self.js = js
        self.derivation = derivation
        self.subject = subjects.progress(derivation.user_id, derivation.parent_id, derivation.processor_id)
        self.interval = interval
        self.sections = 0
        self.seq = 0
        self.published = 0
        self._pending: dict[int, _Pending] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one publisher at a time keeps `seq` in publishing order
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def begin(self, sections: int) -> None:
        self.sections = sections
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"progress-{self.derivation.derived_id}")

    def started(self, section: int) -> None:
        """Tell that a section is under way before it has any text (a message with no delta)."""
        self._pending.setdefault(section, _Pending())
        self._wake.set()

    def delta(self, section: int, text: str) -> None:
        if text:
            self._pending.setdefault(section, _Pending()).text.append(text)
            self._wake.set()

    def restart(self, section: int) -> None:
        # What was gathered and not yet sent is dropped with the rest of the section's text.
        self._pending[section] = _Pending(restart=True)
        self._wake.set()

    def done(self, section: int) -> None:
        self._pending.setdefault(section, _Pending()).done = True
        self._wake.set()

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            if not self._closing:
                await asyncio.sleep(self.interval)  # gather what else comes meanwhile
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Publish everything reported so far; returns when the stream has it (or it was lost)."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            for section, part in sorted(pending.items()):
                self.seq += 1
                d = self.derivation
                message = BlobProgress(
                    user_id=d.user_id,
                    parent_id=d.parent_id,
                    parent_version=d.parent_version,
                    derived_id=d.derived_id,
                    processor_id=d.processor_id,
                    attempt=d.attempt,
                    section=section,
                    sections=self.sections,
                    seq=self.seq,
                    delta="".join(part.text),
                    done=part.done,
                    restart=part.restart,
                    occurred_at=datetime.now(UTC),
                )
                try:
                    await self.js.publish(
                        self.subject,
                        msgspec.json.encode(message),
                        headers={"Nats-Msg-Id": f"{d.derived_id}.{d.attempt}.{self.seq}"},
                        timeout=5,
                    )
                    self.published += 1
                except Exception as exc:  # progress is a courtesy: the finished blob is what counts
                    log.warning("progress of %s not published: %s", d.derived_id, exc)

    async def close(self) -> None:
        """Stop the publisher after sending what is left."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            # Not cancelled: a publish cut short could leave a gap in `seq`.
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
        await self.flush()
