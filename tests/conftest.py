"""Fixtures: one real stack per test session, a fresh user per test, API clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from studio_testing import harness
from studio_testing.fake_openai import ThreadedProvider
from studio_testing.harness import Stack, running_stack
from studio_testing.identity_provider import IdentityProvider
from studio_testing.logscan import scan, secrets_of
from studio_testing.payloads import token_for


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """When the run ends (after every stack has stopped), no log line of any service holds a token
    or a secret: each stack leaves its logs and secrets here, processes tests started log under
    the run's temporary folder, and every `.log` there is read."""
    kept = tmp_path_factory.mktemp("stack-logs")
    harness.keep_logs_in(kept)
    yield
    harness.keep_logs_in(None)
    root = tmp_path_factory.getbasetemp()
    findings = scan(sorted(root.rglob("*.log")), secrets_of(kept))
    if findings:
        shown = "\n".join(str(f) for f in findings[:20])
        pytest.fail(f"{len(findings)} log line(s) hold a token or a secret:\n{shown}", pytrace=False)


@pytest.fixture(scope="session")
def identity() -> Iterator[tuple[IdentityProvider, str]]:
    provider = IdentityProvider()
    served = ThreadedProvider(provider).start()  # type: ignore[arg-type]
    yield provider, served.url.replace("/v1", "/jwks.json")
    served.stop()


@pytest.fixture(scope="session")
def stack(identity: tuple[IdentityProvider, str]) -> Iterator[Stack]:
    # Bodies that trickle are cut off after 2 s here (10 s by default), and chapters pending for
    # 5 s are requested again (30 s by default), so that tests can see both happen. The gateway
    # also takes the test identity provider's tokens.
    provider, jwks_url = identity
    with running_stack(
        STUDIO_BODY_TIMEOUT_SECONDS="2",
        STUDIO_GATEWAY_PENDING_GRACE_SECONDS="5",
        STUDIO_JWKS_URL=jwks_url,
        STUDIO_JWT_ISSUER=provider.issuer,
        STUDIO_JWT_AUDIENCE=provider.audience,
    ) as running:
        yield running


@pytest.fixture
def user_id() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_user_id() -> str:
    return f"o-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def api(stack: Stack, user_id: str) -> AsyncIterator[aiohttp.ClientSession]:
    """The public API as `user_id` sees it."""
    headers = {"Authorization": f"Bearer {token_for(stack, user_id)}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as session:
        yield session


@pytest.fixture
async def other_api(stack: Stack, other_user_id: str) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {token_for(stack, other_user_id)}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as session:
        yield session


@pytest.fixture
async def internal(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    """The index service's internal API, with the service token."""
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(base_url=stack.index, headers=headers) as session:
        yield session
