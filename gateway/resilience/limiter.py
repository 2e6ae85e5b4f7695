"""An adaptive concurrency limit per source, so that load queues in the gateway, not in a store.

The limit follows the source's latency as TCP Vegas and Netflix's Gradient limiters do: while
calls come back about as fast as the best recently seen, the limit grows (by about its square
root); when they slow down, it shrinks in proportion, and a call that fails or times out cuts it
by a tenth. Calls beyond the limit wait in a FIFO queue within the request's budget. A call that
cannot be sent in time is *shed*: the request is answered 503 with `Retry-After` at once rather
than half-served, and the source is not blamed for it.

The deadline of a call counts from when it is sent, not from when it was queued, and follows the
source's observed latency (four times its recent average) between a floor and a ceiling.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

TOLERANCE = 2.0  # latency up to this multiple of the best seen is not yet a sign of overload
SMOOTHING = 0.2
BASELINE_WINDOW = 500  # samples before the best latency is forgotten (the store may have changed)


class Shed(Exception):
    """The call could not be sent within the request's budget; answer 503 and ask to retry."""

    def __init__(self, source: str, retry_after: float) -> None:
        super().__init__(f"{source} is at its concurrency limit; the request was shed")
        self.source = source
        self.retry_after = retry_after


class AdaptiveLimit:
    def __init__(
        self,
        name: str,
        *,
        initial: int = 4,
        minimum: int = 2,
        maximum: int = 256,
        floor: float = 0.25,
        ceiling: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.limit = float(initial)
        self.minimum = minimum
        self.maximum = maximum
        self.floor = floor
        self.ceiling = max(ceiling, floor)
        self.in_flight = 0
        self.shed = 0
        self._clock = clock
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._recent: float | None = None  # smoothed latency of recent calls (s)
        self._best: float | None = None  # the best latency in the current window (s)
        self._samples = 0

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def timeout(self) -> float:
        """How long a call may take once sent: four times the recent latency, within floor..ceiling."""
        if self._recent is None:
            return self.floor
        return min(self.ceiling, max(self.floor, 4 * self._recent))

    def expected_wait(self) -> float:
        """Roughly how long a call queued now would wait before it is sent."""
        if self.in_flight < int(self.limit) and not self._waiters:
            return 0.0
        recent = self._recent if self._recent is not None else self.floor
        return (len(self._waiters) + 1) / max(1.0, self.limit) * recent

    async def acquire(self, deadline: float) -> None:
        """Wait for a slot until `deadline` (on this limit's clock); Shed if none comes in time."""
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        remaining = deadline - self._clock()
        if remaining <= 0 or self.expected_wait() > remaining:
            self._shed()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), remaining)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # the slot came just as time ran out: take it
            waiter.cancel()
            self._shed()
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(None, dropped=False)  # a slot was handed to us: pass it on
            waiter.cancel()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _shed(self) -> None:
        self.shed += 1
        raise Shed(self.name, retry_after=max(1.0, math.ceil(self.expected_wait())))

    def release(self, latency: float | None, *, dropped: bool) -> None:
        """A call ended: `latency` if it answered, `dropped` if it failed or timed out."""
        self.in_flight -= 1
        if dropped:
            self.limit = max(self.minimum, self.limit * 0.9)
        elif latency is not None:
            self._learn(latency)
        while self._waiters and self.in_flight < int(self.limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def _learn(self, latency: float) -> None:
        self._samples += 1
        self._recent = latency if self._recent is None else self._recent * 0.9 + latency * 0.1
        if self._best is None or latency < self._best or self._samples % BASELINE_WINDOW == 0:
            self._best = latency if self._best is None or latency < self._best else self._recent
        gradient = max(0.5, min(1.0, TOLERANCE * self._best / self._recent))
        # Grow only when the limit is what holds calls back: an idle limit proves nothing.
        headroom = math.sqrt(self.limit) if self.in_flight + 1 >= self.limit / 2 or self._waiters else 0.0
        target = self.limit * gradient + headroom
        self.limit = max(self.minimum, min(self.maximum, self.limit * (1 - SMOOTHING) + target * SMOOTHING))
