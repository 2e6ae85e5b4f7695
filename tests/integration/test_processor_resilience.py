"""The processor runtime under failure, with processors started by the tests beside a stack.

The stack here runs no processor of its own; each test starts text expansion as it needs it:
against a local OpenAI-compatible server, with a crash hook, killed mid-stream, or twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import nats
import pytest
from pymongo import AsyncMongoClient

from processors.runtime.consumer import durable_name
from processors.runtime.deadletter import dead_letters
from processors.runtime.handler import CRASH_EXIT_CODE
from studio_testing.events import consumer
from studio_testing.fake_openai import FakeProvider
from studio_testing.harness import ROOT, ServiceProcess, Stack, free_port, running_stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually, index_entries

DATABASE = "studio_text_expansion_resilience"


@pytest.fixture(scope="module")
def bare() -> Iterator[Stack]:
    with running_stack(STUDIO_PROCESSORS="") as stack:
        yield stack


@pytest.fixture
def processors(bare: Stack, tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    """Text expansion instances this test starts; all are killed at the end."""
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.kill()


def text_expansion(bare: Stack, tmp_path: Path, started: list[ServiceProcess], **env: str) -> ServiceProcess:
    port = free_port()
    settings = {
        "STUDIO_SERVICE_TOKEN": bare.secrets["service_token"],
        "STUDIO_TEXT_EXPANSION_PORT": str(port),
        "STUDIO_TEXT_EXPANSION_MONGO_URL": bare.mongo_url,
        "STUDIO_TEXT_EXPANSION_DATABASE": DATABASE,
        "STUDIO_INDEX_URL": bare.index,
        "STUDIO_NATS_URL": bare.nats_url,
        "STUDIO_PROCESSOR_ACK_WAIT_SECONDS": "2",
        "STUDIO_PROCESSOR_MAX_DELIVER": "3",
        "STUDIO_PROCESSOR_BACKOFF_SECONDS": "0.2,0.4,0.8",
        **env,
    }
    process = ServiceProcess("processors.text_expansion", settings, tmp_path / f"text-expansion-{port}.log", port)
    started.append(process)
    return process


async def start(process: ServiceProcess, **overrides: str) -> ServiceProcess:
    process.start(**overrides)
    await asyncio.to_thread(process.wait_ready)
    return process


@pytest.fixture
async def internal_bare(bare: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {bare.secrets['service_token']}"}
    async with aiohttp.ClientSession(base_url=bare.index, headers=headers) as session:
        yield session


async def post_draft(internal: aiohttp.ClientSession, user_id: str, n: int, style: str = "casual") -> str:
    body = {"user_id": user_id, **draft(content=f"Draft number {n} tells of the harbour and the lamp.", style=style)}
    async with internal.post("/api/v1/blobs", json=body) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


async def stored(bare: Stack, user_id: str) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(bare.mongo_url)
    try:
        return await client[DATABASE]["expanded_texts"].find({"user_id": user_id}).to_list(None)
    finally:
        await client.close()


async def metric(process: ServiceProcess, outcome: str) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.get(process.url + "/metrics", headers=process.metrics_headers) as response:
            text = await response.text()
    prefix = f'studio_processor_messages_total{{outcome="{outcome}",processor="text-expansion"}}'
    line = next((row for row in text.splitlines() if row.startswith(prefix)), "")
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


async def test_the_openai_client_path_survives_two_provider_errors(
    bare: Stack,
    tmp_path: Path,
    processors: list[ServiceProcess],
    provider: tuple[FakeProvider, str],
    internal_bare: aiohttp.ClientSession,
    user_id: str,
) -> None:
    fake, url = provider
    fake.fail_next = 2
    await start(
        text_expansion(
            bare,
            tmp_path,
            processors,
            STUDIO_OPENAI_API_KEY="test-key",
            STUDIO_OPENAI_BASE_URL=url,
            STUDIO_OPENAI_MODEL="fake-model",
        )
    )
    parent = await post_draft(internal_bare, user_id, 1, style="casual")
    (entry,) = await eventually(
        lambda: index_entries(internal_bare, user_id, parent_id=parent), lambda e: len(e) == 1, what="an expansion"
    )
    (blob,) = await stored(bare, user_id)
    # The usage the stream reported: 40 prompt tokens and one token a word of the answer.
    assert blob["_id"] == entry["id"] and blob["model_used"] == "fake-model"
    assert blob["tokens_used"] == 40 + len(blob["data"]["expanded"].split())
    assert fake.calls == 3, "two failures, then the one that worked"
    system = fake.prompts[-1][0]["content"]
    assert "casual" in system and "three to five times" in system
    # The section was tried again within the one delivery: JetStream never saw a failure.
    assert await metric(processors[0], "failed") == 0


async def test_a_provider_down_costs_a_section_its_attempts_then_dead_letters_and_replay_makes_the_blob(
    bare: Stack,
    tmp_path: Path,
    processors: list[ServiceProcess],
    provider: tuple[FakeProvider, str],
    internal_bare: aiohttp.ClientSession,
    user_id: str,
) -> None:
    fake, url = provider
    fake.down = True
    await start(
        text_expansion(
            bare,
            tmp_path,
            processors,
            STUDIO_OPENAI_API_KEY="test-key",
            STUDIO_OPENAI_BASE_URL=url,
            STUDIO_TEXT_EXPANSION_SECTION_ATTEMPTS="2",
        )
    )
    parent = await post_draft(internal_bare, user_id, 1)
    nc = await nats.connect(bare.nats_url)
    try:
        js = nc.jetstream()

        async def mine() -> list[int]:
            letters = []
            for letter in await dead_letters(js, "text-expansion"):
                original = await js.get_msg("STUDIO", letter.stream_seq)
                if msgspec.json.decode(original.data or b"{}").get("blob_id") == parent:
                    letters.append(letter.dlq_seq)
            return letters

        (dlq_seq,) = await eventually(mine, lambda found: len(found) == 1, timeout=30, what="a dead letter")
    finally:
        await nc.drain()
    # One layer retried the model: the section's 2 tries, in one delivery; max_deliver (3) is not used.
    assert fake.calls == 2
    assert await metric(processors[0], "terminated") == 1
    assert await index_entries(internal_bare, user_id, parent_id=parent) == []

    fake.down = False
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    replayed = subprocess.run(
        [sys.executable, "-m", "compose", "dlq", "replay", "--processor", "text-expansion", "--seq", str(dlq_seq)],
        cwd=ROOT,
        env={**env, "STUDIO_NATS_URL": bare.nats_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 of 1" in replayed.stdout
    await eventually(
        lambda: index_entries(internal_bare, user_id, parent_id=parent),
        lambda e: len(e) == 1,
        what="the replayed expansion",
    )
    assert len(await stored(bare, user_id)) == 1


async def test_kill_9_between_store_write_and_ack_leaves_one_blob(
    bare: Stack, tmp_path: Path, processors: list[ServiceProcess], internal_bare: aiohttp.ClientSession, user_id: str
) -> None:
    crashing = await start(text_expansion(bare, tmp_path, processors), STUDIO_PROCESSOR_TEST_CRASH_AFTER_STORE="true")
    parent = await post_draft(internal_bare, user_id, 1)
    assert await asyncio.to_thread(crashing.wait, 30) == CRASH_EXIT_CODE
    assert len(await stored(bare, user_id)) == 1
    assert await index_entries(internal_bare, user_id, parent_id=parent) == []
    await start(crashing)  # the same instance, without the hook
    await eventually(
        lambda: index_entries(internal_bare, user_id, parent_id=parent),
        lambda e: len(e) == 1,
        what="registration after redelivery",
    )
    assert len(await stored(bare, user_id)) == 1


async def test_a_processor_killed_while_drafts_arrive_catches_up_exactly_once(
    bare: Stack, tmp_path: Path, processors: list[ServiceProcess], internal_bare: aiohttp.ClientSession, user_id: str
) -> None:
    instance = await start(text_expansion(bare, tmp_path, processors))
    parents: list[str] = []
    for n in range(40):
        parents.append(await post_draft(internal_bare, user_id, n))
        if n == 12:
            assert instance.process is not None
            os.kill(instance.process.pid, signal.SIGKILL)
            instance.process.wait()
        if n == 28:
            await start(instance)
        await asyncio.sleep(0.02)
    entries = await eventually(
        lambda: index_entries(internal_bare, user_id, processor_id="text-expansion"),
        lambda e: len(e) >= 40,
        timeout=60,
        what="40 expansions",
    )
    # Every delivery settled (none waiting, none in flight): no duplicate can be on its way.
    await eventually(
        lambda: consumer(bare.nats_url, durable_name("text-expansion", "blob.created.text-input-v1")),
        lambda c: c is not None and c.num_pending == 0 and c.num_ack_pending == 0,
        what="every delivery settled",
    )
    entries = await index_entries(internal_bare, user_id, processor_id="text-expansion")
    assert sorted(e["parent_id"] for e in entries) == sorted(parents)
    assert len(await stored(bare, user_id)) == 40


async def test_two_instances_split_200_drafts_without_duplicates(
    bare: Stack, tmp_path: Path, processors: list[ServiceProcess], internal_bare: aiohttp.ClientSession, user_id: str
) -> None:
    first = await start(text_expansion(bare, tmp_path, processors))
    second = await start(text_expansion(bare, tmp_path, processors))
    before = [await metric(p, "processed") for p in (first, second)]
    semaphore = asyncio.Semaphore(8)

    async def post(n: int) -> str:
        async with semaphore:
            return await post_draft(internal_bare, user_id, n)

    parents = await asyncio.gather(*(post(n) for n in range(200)))
    await eventually(
        lambda: index_entries(internal_bare, user_id, processor_id="text-expansion"),
        lambda e: len(e) >= 200,
        timeout=90,
        what="200 expansions",
    )
    entries = await index_entries(internal_bare, user_id, processor_id="text-expansion")
    assert sorted(e["parent_id"] for e in entries) == sorted(parents)
    assert len(await stored(bare, user_id)) == 200
    after = [await metric(p, "processed") for p in (first, second)]
    shares = [a - b for a, b in zip(after, before, strict=True)]
    assert all(share > 0 for share in shares), f"both instances took work: {shares}"
    assert sum(shares) >= 200
