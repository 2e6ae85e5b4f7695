"""Expansion you watch happen: progress on the owner's socket, resumable, section retries, cancellation.

A stack of its own: the gateway and the index, and text expansion started here against the local
OpenAI-compatible provider, which streams at a set pace and can break, refuse (429) or be left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from servicekit.auth import issue_token
from studio_testing.fake_openai import FakeProvider, ThreadedProvider
from studio_testing.harness import ServiceProcess, Stack, running_stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually

DATABASE = "studio_text_expansion_streaming"
PARAGRAPHS = [
    "Mara found the old ledger under the harbour office stairs. The ink had faded to the colour of weak tea.",
    "She carried the ledger to the lighthouse and read it by the lamp. Every entry named a ship that never came home.",
    "At dawn the ferry left without her. The keeper watched the grey water and said nothing at all.",
    "By noon the town knew what the ledger held. Nobody spoke of the ships, and nobody slept that night.",
]
CHAPTER = "\n\n".join(PARAGRAPHS)


@pytest.fixture(scope="module")
def model() -> Iterator[ThreadedProvider]:
    threaded = ThreadedProvider(FakeProvider(tokens_per_second=400, first_token_seconds=0.05)).start()
    yield threaded
    threaded.stop()


@pytest.fixture(scope="module")
def streaming(
    model: ThreadedProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, ServiceProcess]]:
    with running_stack(STUDIO_PROCESSORS="") as stack:
        expansion = ServiceProcess.text_expansion(
            stack,
            DATABASE,
            Path(tmp_path_factory.mktemp("streaming")),
            STUDIO_OPENAI_API_KEY="test",
            STUDIO_OPENAI_BASE_URL=model.url,
            STUDIO_PROCESSOR_ACK_WAIT_SECONDS="2",
            STUDIO_PROCESSOR_BACKOFF_SECONDS="0.2",
            STUDIO_TEXT_EXPANSION_SECTION_WORDS="12",
            STUDIO_TEXT_EXPANSION_SECTIONS_PER_DRAFT="4",
        )
        expansion.start()
        expansion.wait_ready()
        yield stack, expansion
        expansion.kill()


@pytest.fixture
def provider(model: ThreadedProvider) -> Iterator[FakeProvider]:
    fake = model.provider
    fake.reset()
    fake.tokens_per_second, fake.first_token_seconds = 400, 0.05
    yield fake
    fake.reset()


@pytest.fixture
async def client(streaming: tuple[Stack, ServiceProcess], user_id: str) -> AsyncIterator[aiohttp.ClientSession]:
    stack, _ = streaming
    headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user_id)}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as session:
        yield session


class Socket:
    """A user's WebSocket, read in the background into `messages`."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, stack: Stack, user_id: str, **params: int) -> Socket:
        session = aiohttp.ClientSession()
        token = issue_token(stack.secrets["jwt_secret"], user_id)
        ws = await session.ws_connect(
            f"{stack.gateway}/ws", params={"token": token, **{k: str(v) for k, v in params.items()}}
        )
        socket = cls(session, ws)
        await socket.wait(lambda m: m["type"] == "ready")
        return socket

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(message.json())

    async def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if match(message):
                    return message
            await asyncio.sleep(0.02)
        raise AssertionError(f"no such message in {len(self.messages)}: {self.messages[-5:]}")

    def progress(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "blob.progress"]

    async def close(self) -> None:
        await self.ws.close()
        await self._reader
        await self.session.close()


def joined(messages: list[dict[str, Any]]) -> str:
    """The text the progress messages spell, as a client puts it together (newest attempt only)."""
    if not messages:
        return ""
    attempt = max(m["attempt"] for m in messages)
    texts: dict[int, str] = {}
    for m in messages:
        if m["attempt"] != attempt:
            continue
        if m["restart"]:
            texts[m["section"]] = ""
        texts[m["section"]] = texts.get(m["section"], "") + m["delta"]
    return "\n\n".join(texts[i].strip() for i in sorted(texts))


async def stored(stack: Stack, user_id: str, parent_id: str) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        return (
            await client[DATABASE]["expanded_texts"]
            .find({"user_id": user_id, "parent_blob_id": parent_id})
            .to_list(None)
        )
    finally:
        await client.close()


async def create(client: aiohttp.ClientSession, content: str = CHAPTER) -> dict[str, Any]:
    async with client.post("/api/v1/blobs", json=draft(content=content)) as response:
        assert response.status == 201, await response.text()
        return dict(await response.json())


def derived_of(parent_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "blob.derived" and m["parent_id"] == parent_id


async def test_deltas_reach_the_owner_first_in_order_and_spell_the_stored_expansion(
    streaming: tuple[Stack, ServiceProcess],
    provider: FakeProvider,
    client: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
) -> None:
    stack, _ = streaming
    owner = await Socket.open(stack, user_id)
    stranger = await Socket.open(stack, other_user_id)
    try:
        blob = await create(client)
        derived = await owner.wait(derived_of(blob["id"]))
        position = owner.messages.index(derived)
        progress = owner.progress()
        assert progress and all(owner.messages.index(m) < position for m in progress), "every delta before blob.derived"
        assert {m["parent_id"] for m in progress} == {blob["id"]} and {m["derived_id"] for m in progress} == {
            derived["derived_id"]
        }
        assert {m["processor"] for m in progress} == {"text-expansion"} and {m["attempt"] for m in progress} == {1}
        sections = progress[0]["sections"]
        assert sections == 8  # four paragraphs of two sentences, ~20 words, cut at 12 words: a section a sentence
        for section in range(sections):
            seqs = [m["seq"] for m in progress if m["section"] == section]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            assert [m["done"] for m in progress if m["section"] == section][-1] is True
        (expansion,) = await stored(stack, user_id, blob["id"])
        assert joined(progress) == expansion["data"]["expanded"]
        assert provider.streams_started == sections and provider.most_streaming <= 4  # the per-draft limit
        # The stranger's own later write reaches their socket: anything of the owner's would have come first.
        token = issue_token(stack.secrets["jwt_secret"], other_user_id)
        async with aiohttp.ClientSession(
            base_url=stack.gateway, headers={"Authorization": f"Bearer {token}"}
        ) as theirs:
            their_blob = await create(theirs, "A line of the stranger's own.")
        await stranger.wait(lambda m: m["type"] == "blob.created" and m["blob_id"] == their_blob["id"])
        assert not any(m.get("parent_id") == blob["id"] for m in stranger.progress())
        assert not any(blob["id"] in (m.get("blob_id"), m.get("parent_id")) for m in stranger.messages)
    finally:
        await owner.close()
        await stranger.close()


async def test_a_reconnect_mid_stream_and_a_late_reader_miss_nothing(
    streaming: tuple[Stack, ServiceProcess], provider: FakeProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = streaming
    provider.tokens_per_second = 20
    first = await Socket.open(stack, user_id)
    blob = await create(client)
    await first.wait(lambda m: m["type"] == "blob.progress" and m["seq"] >= 3)
    await first.close()
    before = first.progress()
    last_event = max(m["id"] for m in first.messages if "id" in m and m["type"] != "ready")
    # A late reader: the blob shows the text so far, and from where to go on.
    async with client.get(f"/api/v1/blobs/{blob['id']}") as response:
        assert response.status == 200
        shown = await response.json()
    assert len(shown["in_flight"]) == 1, (shown, first.messages[-3:])
    (running,) = shown["in_flight"]
    assert running["processor"] == "text-expansion" and running["sections"] == 8 and running["sections_done"] < 8
    assert running["text"].startswith(joined(before)[:20])
    second = await Socket.open(stack, user_id, last_event_id=last_event, last_progress_id=before[-1]["progress_id"])
    late = await Socket.open(stack, user_id, last_progress_id=running["progress_id"])
    try:
        await second.wait(derived_of(blob["id"]))
        await late.wait(derived_of(blob["id"]))
        (expansion,) = await stored(stack, user_id, blob["id"])
        resumed = before + second.progress()
        ids = [m["progress_id"] for m in resumed]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), "no message twice"
        assert joined(resumed) == expansion["data"]["expanded"], "nothing lost across the reconnect"
        # The late reader's text so far, then its socket's deltas, section by section.
        texts = {i: "" for i in range(8)}
        for m in late.progress():
            texts[m["section"]] += m["delta"]
        assert running["text"] != expansion["data"]["expanded"]
        assert all(expansion["data"]["expanded"].count(t.strip()) == 1 for t in texts.values() if t.strip())
    finally:
        await second.close()
        await late.close()


async def test_a_stream_broken_midway_is_retried_for_that_section_only(
    streaming: tuple[Stack, ServiceProcess], provider: FakeProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = streaming
    provider.break_next = 1
    owner = await Socket.open(stack, user_id)
    try:
        blob = await create(client)
        await owner.wait(derived_of(blob["id"]))
        progress = owner.progress()
        restarted = {m["section"] for m in progress if m["restart"]}
        assert len(restarted) == 1, "one section started over"
        assert provider.streams_broken == 1 and provider.streams_started == 8 + 1, "the seven others streamed once"
        (expansion,) = await stored(stack, user_id, blob["id"])
        assert joined(progress) == expansion["data"]["expanded"] and {m["attempt"] for m in progress} == {1}
    finally:
        await owner.close()


async def test_a_429_waits_as_retry_after_says(
    streaming: tuple[Stack, ServiceProcess], provider: FakeProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = streaming
    provider.rate_limit_next, provider.retry_after = 1, 1.0
    blob = await create(client, "Mara found the old ledger under the stairs.")  # one section
    await eventually(lambda: stored(stack, user_id, blob["id"]), lambda found: len(found) == 1, what="the expansion")
    (refused, answered) = provider.log
    assert refused[1] == "429" and answered[1] == "ok"
    assert answered[0] - refused[0] >= 0.95, "the section waited what Retry-After asked"


async def test_an_edit_mid_stream_cancels_the_stale_work_and_the_new_version_streams(
    streaming: tuple[Stack, ServiceProcess], provider: FakeProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = streaming
    provider.tokens_per_second = 20
    owner = await Socket.open(stack, user_id)
    try:
        blob = await create(client)
        await owner.wait(lambda m: m["type"] == "blob.progress")
        edited = draft(content=CHAPTER.replace("Mara", "Ines"))
        async with client.put(f"/api/v1/blobs/{blob['id']}", json={"data": edited["data"], "version": 1}) as response:
            assert response.status == 200, await response.text()

        async def aborted() -> int:
            return provider.streams_aborted

        # The first version's streams are still slow: their requests go away before they could end.
        await eventually(aborted, lambda n: n >= 1, what="the provider seeing the first version's requests go away")
        provider.tokens_per_second = 400
        await eventually(
            lambda: stored(stack, user_id, blob["id"]),
            lambda found: [e["source_version"] for e in found] == [2],
            what="the second version's expansion, alone",
        )
        new = [m for m in owner.progress() if m["parent_version"] == 2]
        (expansion,) = await stored(stack, user_id, blob["id"])
        assert "Ines" in expansion["data"]["expanded"] and joined(new) == expansion["data"]["expanded"]
        old = [m for m in owner.progress() if m["parent_version"] == 1]
        assert old and not all(m["done"] for m in old), "the first version never finished"
    finally:
        await owner.close()


async def test_kill_9_mid_stream_ends_with_one_complete_expansion(
    streaming: tuple[Stack, ServiceProcess], provider: FakeProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, expansion = streaming
    provider.tokens_per_second = 30
    owner = await Socket.open(stack, user_id)
    try:
        blob = await create(client)
        await owner.wait(lambda m: m["type"] == "blob.progress" and m["parent_id"] == blob["id"])
        expansion.kill()
        provider.tokens_per_second = 400
        expansion.start()
        await asyncio.to_thread(expansion.wait_ready)
        derived = await owner.wait(derived_of(blob["id"]), timeout=60)
        made = await stored(stack, user_id, blob["id"])
        assert [e["_id"] for e in made] == [derived["derived_id"]]
        progress = [m for m in owner.progress() if m["parent_id"] == blob["id"]]
        assert max(m["attempt"] for m in progress) >= 2, "the redelivery streamed again as a new attempt"
        assert joined(progress) == made[0]["data"]["expanded"]
        async with client.get(f"/api/v1/blobs/{blob['id']}") as response:
            body = await response.json()
        assert [d["id"] for d in body["derived"]] == [derived["derived_id"]] and body["in_flight"] == []
    finally:
        await owner.close()
