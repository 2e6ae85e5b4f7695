"""The WebSocket hub and the circuit breaker, with stand-in sockets and a stand-in clock."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from gateway.live.hub import SLOW_CONSUMER, Hub
from gateway.metrics import GatewayMetrics
from gateway.resilience.breaker import CircuitBreaker, State


class FakeSocket:
    def __init__(self, *, stuck: bool = False) -> None:
        self.stuck = stuck
        self.received: list[str] = []
        self.closed_with: int | None = None

    async def send_str(self, message: str) -> None:
        if self.stuck:
            await asyncio.sleep(3600)  # a client that never reads
        self.received.append(message)

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.closed_with = code


async def test_a_slow_socket_is_closed_and_never_delays_the_others() -> None:
    hub = Hub(GatewayMetrics(CollectorRegistry()), queue_size=8)
    slow, fast = FakeSocket(stuck=True), FakeSocket()
    connections = [hub.open("writer", s) for s in (slow, fast)]  # type: ignore[arg-type]
    for connection in connections:
        hub.start(connection)
    for seq in range(1, 101):
        hub.deliver("writer", f'{{"id": {seq}}}', seq)
        await asyncio.sleep(0)
    for _ in range(50):
        if len(fast.received) == 100:
            break
        await asyncio.sleep(0.01)
    assert len(fast.received) == 100
    assert slow.closed_with == SLOW_CONSUMER
    assert [c.socket for c in hub.by_user["writer"]] == [fast]
    for connection in list(hub.by_user["writer"]):
        hub.close(connection)


async def test_messages_go_to_their_user_only() -> None:
    hub = Hub(GatewayMetrics(CollectorRegistry()))
    mine, theirs = FakeSocket(), FakeSocket()
    for user, socket in (("me", mine), ("them", theirs)):
        hub.start(hub.open(user, socket))  # type: ignore[arg-type]
    hub.deliver("me", "hello", 1)
    await asyncio.sleep(0.01)
    assert (mine.received, theirs.received) == (["hello"], [])
    await hub.close_all()


def test_the_breaker_opens_then_probes_once_then_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown=5.0, clock=lambda: now[0])
    assert breaker.allow()
    breaker.failure()
    assert breaker.allow() and breaker.state == State.CLOSED
    breaker.failure()
    assert breaker.state == State.OPEN and not breaker.allow()
    now[0] = 5.0
    assert breaker.allow() and breaker.state == State.HALF_OPEN
    assert not breaker.allow(), "one probe at a time"
    breaker.failure()
    assert breaker.state == State.OPEN and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == State.CLOSED and breaker.allow()
