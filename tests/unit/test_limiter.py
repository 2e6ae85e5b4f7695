"""The adaptive concurrency limit: grows while latency holds, shrinks when it climbs, queues, sheds."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.resilience.limiter import AdaptiveLimit, Shed


def saturate(limit: AdaptiveLimit, latency: float, rounds: int) -> None:
    """Calls that keep the limit full, each answering in `latency`."""
    for _ in range(rounds):
        limit.in_flight = int(limit.limit)
        limit.release(latency, dropped=False)


def test_the_limit_grows_while_latency_holds_and_shrinks_when_it_climbs() -> None:
    limit = AdaptiveLimit("s", initial=4, maximum=200)
    saturate(limit, 0.005, 200)
    grown = limit.limit
    assert grown > 20
    saturate(limit, 0.050, 200)  # ten times slower: the store is queueing
    assert limit.limit < grown / 2
    assert limit.minimum <= limit.limit


def test_an_idle_limit_does_not_grow() -> None:
    limit = AdaptiveLimit("s", initial=10)
    for _ in range(200):
        limit.in_flight = 1
        limit.release(0.005, dropped=False)
    assert limit.limit <= 10


def test_a_dropped_call_cuts_the_limit_by_a_tenth() -> None:
    limit = AdaptiveLimit("s", initial=20)
    limit.in_flight = 1
    limit.release(None, dropped=True)
    assert limit.limit == pytest.approx(18)


def test_the_timeout_follows_latency_between_floor_and_ceiling() -> None:
    limit = AdaptiveLimit("s", floor=0.25, ceiling=2.0)
    assert limit.timeout() == 0.25
    saturate(limit, 0.2, 100)
    assert 0.25 < limit.timeout() <= 0.8 + 1e-9
    saturate(limit, 5.0, 100)
    assert limit.timeout() == 2.0


async def test_calls_past_the_limit_wait_in_order_and_are_shed_when_time_runs_out() -> None:
    limit = AdaptiveLimit("s", initial=2, minimum=2)
    deadline = time.monotonic() + 5
    await limit.acquire(deadline)
    await limit.acquire(deadline)
    order: list[int] = []

    async def queued(n: int) -> None:
        await limit.acquire(deadline)
        order.append(n)

    waiting = [asyncio.create_task(queued(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert limit.queued == 3 and order == []
    limit.release(0.001, dropped=False)
    limit.release(0.001, dropped=False)
    await asyncio.sleep(0.01)
    assert order == [0, 1] and limit.queued == 1
    with pytest.raises(Shed) as shed:
        await limit.acquire(time.monotonic() + 0.01)  # behind a queue it cannot pass in time
    assert shed.value.retry_after >= 1 and limit.shed == 1
    limit.release(0.001, dropped=False)
    await asyncio.gather(*waiting)
    assert order == [0, 1, 2] and limit.in_flight == 2


async def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    limit = AdaptiveLimit("s", initial=2, minimum=2)
    deadline = time.monotonic() + 5
    await limit.acquire(deadline)
    await limit.acquire(deadline)
    first = asyncio.create_task(limit.acquire(deadline))
    second = asyncio.create_task(limit.acquire(deadline))
    await asyncio.sleep(0.01)
    first.cancel()
    limit.release(0.001, dropped=False)
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1)
    assert limit.in_flight == 2 and limit.queued == 0
