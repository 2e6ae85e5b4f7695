"""Durable JetStream pull consumers: explicit acks, heartbeats, back-off, a finite max_deliver.

Every instance of a processor binds to the same durable consumers, so N running copies split
the work between them; that is how operators scale a processor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.events import AnyEvent, BlobChanged, CompileBook
from contracts.models import RecordFailure
from contracts.subjects import STREAM_NAME
from servicekit.retry import FETCH, Backoff
from servicekit.stream import unsubscribe_quietly
from servicekit.tracing import SpanKind, Tracer, span

from .base import Outcome
from .errors import PermanentError
from .metrics import ProcessorMetrics
from .settings import RuntimeSettings

log = logging.getLogger(__name__)
Handle = Callable[..., Awaitable[Outcome]]  # (event, *, attempt) -> outcome
Report = Callable[[RecordFailure], Awaitable[None]]
MAX_REASON = 2000
_EVENTS = msgspec.json.Decoder(AnyEvent)
DURABLE_SEPARATOR = "__"


def durable_name(processor_id: str, subject: str) -> str:
    """`text-expansion` + `blob.created.text-input-v1` -> `text-expansion__blob_created_text-input-v1`."""
    return processor_id + DURABLE_SEPARATOR + re.sub(r"[.*>]", "_", subject)


def processor_of(durable: str) -> str:
    return durable.split(DURABLE_SEPARATOR, 1)[0]


def failure_report(processor_id: str, event: AnyEvent, reason: str, stream_seq: int) -> RecordFailure | None:
    """What the owner is told when `processor_id` gives up on `event`; None for what has no owner's item."""
    if isinstance(event, BlobChanged):
        blob_id, version, book_id, request_id = event.blob_id, event.version, None, None
    elif isinstance(event, CompileBook):
        blob_id, version, book_id, request_id = None, None, event.book_id, event.event_id
    else:
        return None  # a deletion, a registration: nothing of the user's waits on it
    return RecordFailure(
        key=f"seq-{stream_seq}",
        user_id=event.user_id,
        processor_id=processor_id,
        reason=reason[:MAX_REASON],
        blob_id=blob_id,
        source_version=version,
        book_id=book_id,
        request_id=request_id,
    )


class EventConsumer:
    """One durable pull consumer on one subject; up to `workers` of its messages are handled at once."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        processor_id: str,
        subject: str,
        settings: RuntimeSettings,
        handle: Handle,
        metrics: ProcessorMetrics,
        workers: int,
        report: Report | None = None,
        tracer: Tracer,
    ) -> None:
        self.js = js
        self.subject = subject
        self.durable = durable_name(processor_id, subject)
        self.settings = settings
        self.handle = handle
        self.report = report
        self.processor_id = processor_id
        self.metrics = metrics
        self.workers = workers
        self.tracer = tracer
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[JetStreamContext.PullSubscription] = []

    def config(self) -> ConsumerConfig:
        s = self.settings
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.subject,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=s.ack_wait_seconds,
            max_deliver=s.max_deliver,
            max_ack_pending=max(64, s.concurrency * 16),
        )

    async def start(self) -> None:
        await self.js.add_consumer(STREAM_NAME, self.config())
        subscription = await self.js.pull_subscribe_bind(durable=self.durable, stream=STREAM_NAME)
        self._subscriptions.append(subscription)
        self._tasks.append(asyncio.create_task(self._loop(subscription), name=self.durable))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # A pull subscription left open keeps a connection's drain waiting for its whole timeout.
        for subscription in self._subscriptions:
            await unsubscribe_quietly(subscription)

    async def _loop(self, subscription: JetStreamContext.PullSubscription) -> None:
        """Fetch as many messages as there are free workers, in one request; handle and settle
        each on its own, so a slow message never holds up the ones fetched with it."""
        free = self.workers
        backoff = Backoff(FETCH)
        changed = asyncio.Condition()
        running: set[asyncio.Task[None]] = set()

        async def run(message: Msg) -> None:
            nonlocal free
            try:
                await self.process(message)
            finally:
                async with changed:
                    free += 1
                    changed.notify()

        def any_free() -> bool:
            return free > 0

        try:
            while True:
                async with changed:
                    await changed.wait_for(any_free)
                    wanted = free
                try:
                    messages = await subscription.fetch(wanted, timeout=self.settings.fetch_timeout_seconds)
                except (nats.errors.TimeoutError, TimeoutError):  # a batch fetch times out as asyncio does
                    backoff.succeeded()
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # connection trouble: the client reconnects; try again shortly
                    log.warning("%s: fetch failed (%s); retrying", self.durable, exc)
                    await backoff.wait()
                    continue
                backoff.succeeded()
                free -= len(messages)
                for message in messages:
                    task = asyncio.create_task(run(message))
                    running.add(task)
                    task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def process(self, message: Msg) -> None:
        """Handle one message and settle it: ack, nak with back-off, or term."""
        delivered = message.metadata.num_delivered
        if delivered > 1:
            self.metrics.redelivered.labels(self.metrics.processor_id).inc()
        started = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(message))
        backoff = self.settings.backoff_seconds
        delay = backoff[min(delivered - 1, len(backoff) - 1)]
        event: AnyEvent | None = None
        try:
            event = _EVENTS.decode(message.data)
            # The handling continues the trace of the write that announced the event.
            with span(
                self.tracer,
                f"process {message.subject}",
                kind=SpanKind.CONSUMER,
                parent=message.headers or {},
                **{
                    "messaging.system": "nats",
                    "messaging.consumer.group.name": self.durable,
                    "messaging.message.id": event.event_id,
                    "messaging.delivery.attempt": delivered,
                },
            ) as current:
                outcome = await self.handle(event, attempt=delivered)
                current.set_attribute("studio.outcome", outcome.value)
        except msgspec.DecodeError as exc:
            await self._term(message, f"undecodable event: {exc}")
        except PermanentError as exc:
            if await self._give_up(message, event, str(exc)):
                await self._term(message, str(exc))
            else:  # the owner could not be told: keep the message and tell them on a later delivery
                with contextlib.suppress(Exception):
                    await message.nak(delay=delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # retryable by default: let JetStream deliver it again later
            if delivered >= self.settings.max_deliver:
                await self._give_up(message, event, f"{type(exc).__name__}: {exc}")
            log.warning(
                "%s: delivery %d/%d of seq %s failed (%s: %s); again in %.1fs",
                self.durable,
                delivered,
                self.settings.max_deliver,
                message.metadata.sequence.stream,
                type(exc).__name__,
                exc,
                delay,
            )
            self.metrics.outcome("failed")
            with contextlib.suppress(Exception):
                await message.nak(delay=delay)
        else:
            with contextlib.suppress(Exception):
                # If the ack is lost the message comes again and is handled as a duplicate.
                await message.ack_sync(timeout=5)
            self.metrics.outcome(outcome.value)
        finally:
            heartbeat.cancel()
            self.metrics.processing.labels(self.metrics.processor_id).observe(time.perf_counter() - started)

    async def _give_up(self, message: Msg, event: AnyEvent | None, reason: str) -> bool:
        """Report a message this processor will not handle to the index; False if that failed."""
        report = failure_report(self.processor_id, event, reason, message.metadata.sequence.stream) if event else None
        if report is None or self.report is None:
            return True
        try:
            await self.report(report)
        except Exception as exc:  # the index is away
            log.warning(
                "%s: could not report giving up on seq %s: %s", self.durable, message.metadata.sequence.stream, exc
            )
            return False
        return True

    async def _term(self, message: Msg, reason: str) -> None:
        log.error("%s: giving up on seq %s: %s", self.durable, message.metadata.sequence.stream, reason)
        self.metrics.outcome("terminated")
        with contextlib.suppress(Exception):
            await message.term()

    async def _heartbeat(self, message: Msg) -> None:
        """Tell JetStream the work goes on, well within ack_wait, so it is not delivered twice."""
        interval = self.settings.ack_wait_seconds / 3
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await message.in_progress()
