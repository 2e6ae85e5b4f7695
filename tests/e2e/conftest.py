"""The end-to-end tests' shared stack with text expansion on a provider the tests control: one
for the package, so that every module testing expansions pays for its start once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from servicekit.auth import issue_token
from studio_testing.fake_openai import FakeProvider, ThreadedProvider
from studio_testing.harness import ServiceProcess, Stack, running_stack
from tests.e2e.expanding import EXPANSIONS_DB


@pytest.fixture(scope="package")
def provider() -> Iterator[ThreadedProvider]:
    threaded = ThreadedProvider(FakeProvider()).start()
    yield threaded
    threaded.stop()


@pytest.fixture(scope="package")
def agg(provider: ThreadedProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, ServiceProcess]]:
    settings = {
        "STUDIO_PROCESSORS": "book-compiler",
        "STUDIO_GATEWAY_CIRCUIT_COOLDOWN_SECONDS": "1",
        "STUDIO_PROCESSOR_MAX_DELIVER": "100",
        "STUDIO_PROCESSOR_BACKOFF_SECONDS": "0.2",
    }
    with running_stack(**settings) as stack:
        expansion = ServiceProcess.text_expansion(
            stack,
            EXPANSIONS_DB,
            Path(tmp_path_factory.mktemp("agg")),
            STUDIO_OPENAI_API_KEY="test",
            STUDIO_OPENAI_BASE_URL=provider.url,
            STUDIO_PROCESSOR_MAX_DELIVER="100",
            STUDIO_PROCESSOR_BACKOFF_SECONDS="0.2",
        )
        expansion.start()
        expansion.wait_ready()
        yield stack, expansion
        expansion.kill()


@pytest.fixture
async def client(agg: tuple[Stack, ServiceProcess], user_id: str) -> AsyncIterator[aiohttp.ClientSession]:
    stack, _ = agg
    headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user_id)}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as session:
        yield session
