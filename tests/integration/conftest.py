from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from aiohttp import web
from nats.aio.client import Client

from studio_testing.fake_openai import FakeProvider
from studio_testing.harness import Stack, free_port


@pytest.fixture
async def nc(stack: Stack) -> AsyncIterator[Client]:
    client = await nats.connect(stack.nats_url)
    yield client
    await client.drain()


@pytest.fixture
async def provider() -> AsyncIterator[tuple[FakeProvider, str]]:
    """The local OpenAI-compatible server, and the base URL to give the `openai` client."""
    fake = FakeProvider()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield fake, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()
