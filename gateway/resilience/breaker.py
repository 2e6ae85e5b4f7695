"""A circuit breaker per source: stop calling a source that keeps failing, probe it again later."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum


class State(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Opens after `failures` failures in a row; after `cooldown` seconds lets one probe through."""

    def __init__(
        self, *, failures: int = 3, cooldown: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.state = State.CLOSED

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time."""
        if self.state == State.OPEN and self._clock() - self._opened_at >= self.cooldown:
            self.state = State.HALF_OPEN
            self._probing = False
        if self.state == State.CLOSED:
            return True
        if self.state == State.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        self.state = State.CLOSED

    def failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self.state == State.HALF_OPEN or self._failures >= self.threshold:
            self.state = State.OPEN
            self._opened_at = self._clock()
