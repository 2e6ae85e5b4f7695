"""A source's own error on one request is not an outage: only unavailability opens its circuit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from gateway.fanout.sources import Source, SourceFailed
from gateway.metrics import GatewayMetrics
from gateway.resilience.breaker import CircuitBreaker, State
from servicekit.client import ServiceClient
from servicekit.urls import url_path
from studio_testing.harness import free_port


@pytest.fixture
async def answering() -> AsyncIterator[tuple[str, list[int]]]:
    """A server that answers each request with the next status of a list the test fills."""
    statuses: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=statuses.pop(0), text="{}")

    app = web.Application()
    app.router.add_get("/x", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", statuses
    await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "opens"), [(500, False), (404, False), (422, False), (503, True), (502, True), (429, True)]
)
async def test_only_unavailability_opens_the_circuit(
    answering: tuple[str, list[int]], status: int, opens: bool
) -> None:
    base, statuses = answering
    statuses.extend([status] * 5)
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(session, name="s", base_url=base, token="t", timeout=2)
        source = Source(client, GatewayMetrics(CollectorRegistry()), breaker=CircuitBreaker(failures=3))
        for _ in range(5):
            try:
                await source.request("GET", url_path("x"), request_id="r", deadline=time.monotonic() + 2)
            except SourceFailed:
                pass
    assert (source.breaker.state == State.OPEN) is opens
