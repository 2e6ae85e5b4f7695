"""The one retry helper: named policies, `retrying` for a call, `Backoff` for a loop that runs on.

Every place that tries something again says which policy it follows; the policies are here, side
by side, so what retries what (and how often) is read in one place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait after the n-th failure, and how many tries in all (None: until it works)."""

    name: str
    first: float  # seconds after the first failure
    cap: float  # the longest wait between two tries
    attempts: int | None = None
    factor: float = 2.0
    longest_asked: float = 60.0  # the longest wait a failure may ask for itself (a 429's Retry-After)

    def delay(self, failures: int) -> float:
        """The wait after `failures` failures in a row (1 or more)."""
        return min(self.first * self.factor ** max(0, failures - 1), self.cap)

    def with_attempts(self, attempts: int) -> RetryPolicy:
        return RetryPolicy(self.name, self.first, self.cap, attempts, self.factor, self.longest_asked)

    def asking_at_most(self, seconds: float) -> RetryPolicy:
        return RetryPolicy(self.name, self.first, self.cap, self.attempts, self.factor, seconds)


# An outbox relay or its marker, when the database or the broker is away: until it works.
RELAY = RetryPolicy("relay", first=0.2, cap=5.0)
# A consumer's fetch from JetStream that failed (the broker restarting): until it works.
FETCH = RetryPolicy("fetch", first=0.5, cap=0.5)
# A processor's registration at start, while the index service is not up yet.
STARTUP = RetryPolicy("startup", first=0.5, cap=0.5, attempts=60)
# A clustered stream whose JetStream peers are still gathering (bounded by a deadline instead).
PLACEMENT = RetryPolicy("placement", first=0.1, cap=2.0)
# A process the supervisor restarts after it exited.
RESTART = RetryPolicy("restart", first=0.5, cap=10.0)
# One call to the model for one section of a draft: the only layer that calls the model again
# (see docs/decisions.md, "One layer retries a model call").
MODEL = RetryPolicy("model", first=0.5, factor=4.0, cap=30.0, attempts=4)  # waits 0.5 s, 2 s, 8 s


class Backoff:
    """The waits of a loop that retries until it works: longer after each failure, back to the
    first after a success."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.failures = 0

    def failed(self) -> float:
        """Count a failure; the wait before the next try."""
        self.failures += 1
        return self.policy.delay(self.failures)

    def succeeded(self) -> None:
        self.failures = 0

    async def wait(self) -> None:
        """Count a failure and wait before the next try."""
        await asyncio.sleep(self.failed())


async def retrying(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    retry_if: Callable[[Exception], bool] = lambda exc: True,
    asked_wait: Callable[[Exception], float | None] = lambda exc: None,
    before_retry: Callable[[Exception, int, float], None] | None = None,
    deadline: float | None = None,
) -> T:
    """`call()` until it returns, at most `policy.attempts` times and not past `deadline`
    (monotonic); a failure `retry_if` refuses, or the last one, is raised as it is.

    `asked_wait`: the wait a failure asks for itself (up to `policy.longest_asked`), instead of
    the policy's. `before_retry(exc, failures, wait)` runs before each wait."""
    failures = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            failures += 1
            if not retry_if(exc) or (policy.attempts is not None and failures >= policy.attempts):
                raise
            if deadline is not None and time.monotonic() >= deadline:
                raise
            asked = asked_wait(exc)
            wait = min(asked, policy.longest_asked) if asked is not None else policy.delay(failures)
            if before_retry is not None:
                before_retry(exc, failures, wait)
            await asyncio.sleep(wait)
