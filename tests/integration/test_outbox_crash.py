"""The outbox: an event written with its data survives a crash before it is published."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nats.aio.client import Client
from pymongo import AsyncMongoClient

from index_service.outbox import CRASH_EXIT_CODE
from studio_testing.events import Seen, watch
from studio_testing.harness import ServiceProcess, Stack, free_port
from studio_testing.payloads import draft


class IndexProcess(ServiceProcess):
    """A second index service on its own database, sharing the session's MongoDB and NATS."""

    def __init__(self, stack: Stack, log_dir: Path) -> None:
        self.stack = stack
        self.database = f"crash_{uuid.uuid4().hex[:8]}"
        port = free_port()
        env = {
            "STUDIO_SERVICE_TOKEN": stack.secrets["service_token"],
            "STUDIO_INDEX_PORT": str(port),
            "STUDIO_INDEX_MONGO_URL": stack.mongo_url,
            "STUDIO_INDEX_DATABASE": self.database,
            "STUDIO_NATS_URL": stack.nats_url,
        }
        super().__init__("index_service", env, log_dir / "index.log", port)

    async def ready(self) -> None:
        await asyncio.to_thread(self.wait_ready)


@pytest.fixture
def index_process(stack: Stack, tmp_path: Path) -> Iterator[IndexProcess]:
    process = IndexProcess(stack, tmp_path)
    yield process
    process.kill()


async def _write_then_crash(index: IndexProcess, user_id: str, token: str) -> dict[str, Any]:
    """Post a blob to an index service that exits before publishing; return the stored document."""
    index.start(STUDIO_INDEX_TEST_CRASH_BEFORE_PUBLISH="true")
    await index.ready()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        try:
            async with session.post(
                index.url + "/api/v1/blobs", json={"user_id": user_id, **draft(content="Written just before a crash.")}
            ):
                pass
        except aiohttp.ClientError:
            pass  # the process may die before it answers; the document tells what was written
    assert index.process is not None
    assert await asyncio.to_thread(index.process.wait, 15) == CRASH_EXIT_CODE
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(index.stack.mongo_url)
    try:
        docs = (
            await mongo[index.database]["blobs"].find({"user_id": user_id, "outbox.0": {"$exists": True}}).to_list(None)
        )
    finally:
        await mongo.close()
    assert len(docs) == 1 and len(docs[0]["outbox"]) == 1
    return docs[0]


async def _outbox_drained(index: IndexProcess, blob_id: str) -> None:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(index.stack.mongo_url)
    try:
        for _ in range(100):
            doc = await mongo[index.database]["blobs"].find_one({"_id": blob_id})
            if doc is not None and not doc["outbox"] and "outbox_pending" not in doc:
                return
            await asyncio.sleep(0.1)
    finally:
        await mongo.close()
    raise AssertionError("the outbox was not drained")


async def caught_up(stack: Stack, seen: Seen, user_id: str) -> None:
    """A draft written now through the stack's own index: once the watcher sees its event, it has
    seen everything the stream held before it."""
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        body = {"user_id": user_id, **draft(content="A later line, to know the watcher is caught up.")}
        async with session.post(stack.index + "/api/v1/blobs", json=body) as response:
            assert response.status == 201, await response.text()
            later = (await response.json())["id"]
    await seen.wait_for(lambda s, e: e["blob_id"] == later)


async def test_an_event_written_before_a_crash_is_published_after_restart(
    stack: Stack, index_process: IndexProcess, nc: Client, user_id: str
) -> None:
    seen = await watch(nc, "blob.created.text-input-v1")
    doc = await _write_then_crash(index_process, user_id, stack.secrets["service_token"])
    event_id = doc["outbox"][0]["event_id"]
    await caught_up(stack, seen, user_id)
    assert seen.matching(lambda s, e: e["event_id"] == event_id) == []

    index_process.start()
    await index_process.ready()
    ((_, headers, event),) = await seen.wait_for(lambda s, e: e["event_id"] == event_id)
    assert headers["Nats-Msg-Id"] == event_id and event["blob_id"] == doc["_id"]
    await _outbox_drained(index_process, doc["_id"])


async def test_an_event_published_but_not_marked_sent_is_not_duplicated(
    stack: Stack, index_process: IndexProcess, nc: Client, user_id: str
) -> None:
    seen = await watch(nc, "blob.created.text-input-v1")
    doc = await _write_then_crash(index_process, user_id, stack.secrets["service_token"])
    entry = doc["outbox"][0]
    # The crash came after the broker's ack and before the event was marked sent.
    await nc.jetstream().publish(entry["subject"], bytes(entry["payload"]), headers={"Nats-Msg-Id": entry["event_id"]})
    index_process.start()
    await index_process.ready()
    await _outbox_drained(index_process, doc["_id"])
    await caught_up(stack, seen, user_id)  # anything the relay published came before this
    assert len(seen.matching(lambda s, e: e["event_id"] == entry["event_id"])) == 1
