"""A processor's consumers follow its state in the registry: an operator retires it, they stop;
brings it back, they start again (and catch up on what their durable consumers kept meanwhile)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts import subjects
from servicekit.stream import unsubscribe_quietly

from .consumer import EventConsumer

log = logging.getLogger(__name__)


class Lifecycle:
    """Starts and stops a processor's consumers as `processor.(de)activated.<id>` arrive."""

    def __init__(self, nc: Client, processor_id: str, make_consumers: Callable[[], list[EventConsumer]]) -> None:
        self._nc = nc
        self._processor_id = processor_id
        self._make_consumers = make_consumers
        self._consumers: list[EventConsumer] = []
        self._subscriptions: list[Subscription] = []
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def consuming(self) -> bool:
        return bool(self._consumers)

    async def start(self, *, active: bool) -> None:
        """Listen for the operator's changes, and consume now if the registry says it is active."""
        for subject, wanted in (
            (subjects.processor_activated(self._processor_id), True),
            (subjects.processor_deactivated(self._processor_id), False),
        ):
            self._subscriptions.append(await self._nc.subscribe(subject, cb=self._on(wanted)))
        if active:
            await self.resume()
        else:
            log.warning(
                "%s is deactivated in the registry: not consuming until an operator activates it", self._processor_id
            )

    def _on(self, active: bool) -> Callable[[Msg], Awaitable[None]]:
        async def handle(_: Msg) -> None:
            task = asyncio.create_task(self.resume() if active else self.pause())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return handle

    async def resume(self) -> None:
        async with self._lock:
            if self._consumers:
                return
            consumers = self._make_consumers()
            for consumer in consumers:
                await consumer.start()
            self._consumers = consumers
            log.info("%s consuming (%d subjects)", self._processor_id, len(consumers))

    async def pause(self) -> None:
        async with self._lock:
            stopped = 0
            while self._consumers:
                # One at a time, off the list only once stopped: a pause cut short leaves the rest
                # where stop() will find them.
                await self._consumers[0].stop()
                self._consumers.pop(0)
                stopped += 1
            if stopped:
                log.warning("%s deactivated: consumers stopped", self._processor_id)

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await unsubscribe_quietly(subscription)
        # Let a change under way finish (they are short); cancelling one could orphan consumers.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pause()
