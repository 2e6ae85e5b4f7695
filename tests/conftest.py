"""Fixtures: one real stack per test session, a fresh user per test, API clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from servicekit.auth import issue_token

from compose.harness import Stack, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Bodies that trickle are cut off after 2 s here (10 s by default), and chapters pending for
    # 5 s are requested again (30 s by default), so that tests can see both happen.
    with running_stack(STUDIO_BODY_TIMEOUT_SECONDS="2", STUDIO_GATEWAY_PENDING_GRACE_SECONDS="5") as running:
        yield running


@pytest.fixture
def user_id() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_user_id() -> str:
    return f"o-{uuid.uuid4().hex[:12]}"


def token_for(stack: Stack, user: str) -> str:
    return issue_token(stack.secrets["jwt_secret"], user)


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


def draft(book_id: str | None = None, chapter: int | None = None, content: str | None = None, **metadata: object) -> dict:
    """A text-input-v1 blob body."""
    meta: dict[str, object] = dict(metadata)
    if book_id is not None:
        meta["book_id"] = book_id
    if chapter is not None:
        meta["chapter"] = chapter
    data: dict[str, object] = {"content": content or f"A chapter draft of some length, number {chapter}."}
    if meta:
        data["metadata"] = meta
    return {"schema_id": "text-input-v1", "data": data}
