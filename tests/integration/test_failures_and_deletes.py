"""What a processor gives up on is shown to its owner; a delete is all or nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import pytest
from nats.aio.client import Client
from pymongo import AsyncMongoClient

from contracts.events import BlobUpdated
from studio_testing.events import watch
from studio_testing.harness import Stack
from studio_testing.payloads import draft, token_for
from studio_testing.waiting import eventually, index_entries


@pytest.fixture
async def index_db(stack: Stack) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    yield client["studio_index"]
    await client.close()


async def book_view(api: aiohttp.ClientSession, user_id: str, book_id: str) -> dict[str, Any]:
    async with api.get(f"/api/v1/users/{user_id}/books/{book_id}", headers={"Cache-Control": "no-cache"}) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_a_message_a_processor_gives_up_on_is_failed_in_views_events_and_the_socket(
    stack: Stack, api: aiohttp.ClientSession, user_id: str, internal: aiohttp.ClientSession, index_db: Any, nc: Client
) -> None:
    """A draft whose current version no longer fits its schema (as an older release could leave
    one) is terminated by text expansion: the owner sees `failed` and why, everywhere."""
    async with api.post(
        "/api/v1/blobs", json=draft("failing-book", 1, content="A draft long enough to expand.")
    ) as response:
        blob_id = (await response.json())["id"]
    await eventually(
        lambda: index_entries(internal, user_id, parent_id=blob_id), lambda e: len(e) == 1, what="the first expansion"
    )
    seen = await watch(nc, "processor.failed.>")
    token = token_for(stack, user_id)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(stack.gateway + "/ws", params={"token": token}) as ws,
    ):
        # Version 2 is too short for text-input-v1 (10 characters at least): planted, then announced.
        await index_db["blobs"].update_one({"_id": blob_id}, {"$set": {"data.content": "short", "version": 2}})
        event = BlobUpdated(
            event_id=uuid.uuid4().hex,
            user_id=user_id,
            blob_id=blob_id,
            schema_id="text-input-v1",
            version=2,
            occurred_at=datetime.now(UTC),
            processor_id="user",
            book_id="failing-book",
            chapter=1,
            previous_version=1,
        )
        await nc.jetstream().publish(
            "blob.updated.text-input-v1", msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
        )
        (_, _, failed), *_ = await seen.wait_for(lambda s, e: e.get("blob_id") == blob_id, timeout=20)
        assert (
            failed["processor_id"] == "text-expansion"
            and failed["user_id"] == user_id
            and failed["source_version"] == 2
        )
        message = None
        while message is None:
            received = await asyncio.wait_for(ws.receive_json(), 10)
            if received["type"] == "processor.failed":
                message = received
        assert message["blob_id"] == blob_id and "text-input-v1" in message["reason"]

    view = await book_view(api, user_id, "failing-book")
    (chapter,) = view["chapters"]
    assert chapter["status"] == "failed" and "/content" in chapter["reason"], chapter
    assert any(e["status"] == "failed" and blob_id in e["ids"] for e in view["errors"])
    async with api.get(f"/api/v1/users/{user_id}/blobs") as response:
        (item,) = (await response.json())["blobs"]
    by_processor = {d["processor"]: d for d in item["derived"]}
    derived = by_processor["text-expansion"]
    assert derived["status"] == "failed" and derived["reason"], item
    # Down the chain, what was made from the old expansion is not current either.
    assert by_processor.get("summary", {"status": "pending"})["status"] != "ok", item
    async with api.get(f"/api/v1/blobs/{blob_id}") as response:
        (failure,) = (await response.json())["failures"]
        assert failure["processor"] == "text-expansion" and failure["source_version"] == 2

    # A good version 3 is made after all, and the failure is over.
    async with api.put(
        f"/api/v1/blobs/{blob_id}",
        json={"data": {"content": "A longer draft once more.", "metadata": {"book_id": "failing-book", "chapter": 1}}},
    ) as response:
        assert response.status == 200
    chapter = (
        await eventually(
            lambda: book_view(api, user_id, "failing-book"),
            lambda v: v["chapters"][0]["status"] == "ok",
            what="the new expansion",
        )
    )["chapters"][0]
    assert chapter["reason"] is None


async def test_another_user_never_sees_a_failure(
    stack: Stack,
    api: aiohttp.ClientSession,
    other_api: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
    internal: aiohttp.ClientSession,
) -> None:
    async with api.post("/api/v1/blobs", json=draft("quiet-book", 1)) as response:
        blob_id = (await response.json())["id"]
    report = {
        "key": f"test-{uuid.uuid4().hex}",
        "user_id": user_id,
        "processor_id": "text-expansion",
        "reason": "nope",
        "blob_id": blob_id,
        "source_version": 1,
    }
    async with internal.post("/api/v1/failures", json=report) as response:
        assert response.status == 201, await response.text()
    async with internal.post("/api/v1/failures", json=report) as response:
        assert response.status == 200  # the same report again changes nothing
    async with other_api.get(f"/api/v1/blobs/{blob_id}") as response:
        assert response.status == 404
    async with other_api.get(f"/api/v1/users/{other_user_id}/blobs") as response:
        assert (await response.json())["blobs"] == []


async def test_a_delete_interrupted_after_its_tombstone_completes_its_cascade(
    stack: Stack, api: aiohttp.ClientSession, user_id: str, internal: aiohttp.ClientSession, index_db: Any
) -> None:
    """The state a kill -9 right after the tombstone's write leaves: the index finishes the job."""
    async with api.post("/api/v1/blobs", json=draft("cut-book", 1)) as response:
        blob_id = (await response.json())["id"]
    (child,) = await eventually(
        lambda: index_entries(internal, user_id, parent_id=blob_id), lambda e: len(e) == 1, what="an expansion"
    )
    await index_db["blobs"].update_one(
        {"_id": blob_id}, {"$set": {"deleted": True, "cascade_pending": True}, "$unset": {"chapter_key": ""}}
    )
    async with api.get(f"/api/v1/blobs/{blob_id}") as response:
        assert response.status == 404  # deleted in effect at once
    await eventually(
        lambda: index_entries(internal, user_id, parent_id=blob_id), lambda e: e == [], timeout=20, what="the cascade"
    )
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def held() -> int:
            async with session.get(
                f"{stack.text_expansion}/blobs/{child['id']}", params={"user_id": user_id}
            ) as response:
                return response.status

        await eventually(held, lambda status: status == 404, what="text expansion dropping its copy")
    await eventually(
        lambda: index_db["blobs"].find_one({"_id": blob_id, "cascade_pending": True}),
        lambda doc: doc is None,
        what="the mark cleared",
    )


async def test_a_registration_cut_short_after_its_parent_was_deleted_is_not_left_behind(
    api: aiohttp.ClientSession, user_id: str, internal: aiohttp.ClientSession, index_db: Any
) -> None:
    """The state a kill -9 of the index leaves between a registration's insert and its undo (the
    parent was deleted while the processor worked): the index deletes the blob instead of announcing it."""
    from contracts import subjects
    from contracts.events import BlobCreated
    from index_service.outbox import outbox_entry

    async with api.post("/api/v1/blobs", json=draft("orphan-book", 1)) as response:
        blob_id = (await response.json())["id"]
    (child,) = await eventually(
        lambda: index_entries(internal, user_id, parent_id=blob_id), lambda e: len(e) == 1, what="an expansion"
    )
    made = await index_db["blobs"].find_one({"_id": child["id"]})
    async with api.delete(f"/api/v1/blobs/{blob_id}") as response:
        assert response.status == 204
    await eventually(
        lambda: index_entries(internal, user_id, parent_id=blob_id), lambda e: e == [], timeout=20, what="the cascade"
    )
    late = f"text-expansion-{uuid.uuid4().hex}"
    event = BlobCreated(
        event_id=uuid.uuid4().hex,
        user_id=user_id,
        blob_id=late,
        schema_id=made["schema_id"],
        version=1,
        occurred_at=datetime.now(UTC),
        processor_id=made["processor_id"],
        type=made["type"],
        parent_id=blob_id,
        book_id=made["book_id"],
        chapter=made["chapter"],
        title=made["title"],
        preview=made["preview"],
        source_version=2,
    )
    await index_db["blobs"].insert_one(
        {
            **made,
            "_id": late,
            "remote_blob_id": late,
            "source_version": 2,
            "outbox": [outbox_entry(subjects.blob_created(made["schema_id"]), event)],
            "outbox_pending": True,
        }
    )
    await eventually(
        lambda: index_entries(internal, user_id, parent_id=blob_id),
        lambda e: e == [],
        timeout=20,
        what="the late registration deleted",
    )
    await eventually(
        lambda: index_db["blobs"].find_one({"_id": late}), lambda doc: doc is None, what="its tombstone gone"
    )


async def test_a_chapter_whose_expansion_was_lost_is_not_left_pending(
    stack: Stack, api: aiohttp.ClientSession, user_id: str, internal: aiohttp.ClientSession
) -> None:
    """The session's stack asks again after 5 s (STUDIO_GATEWAY_PENDING_GRACE_SECONDS)."""
    async with api.post("/api/v1/blobs", json=draft("lost-book", 1)) as response:
        blob_id = (await response.json())["id"]
    (child,) = await eventually(
        lambda: index_entries(internal, user_id, parent_id=blob_id), lambda e: len(e) == 1, what="an expansion"
    )
    async with internal.delete(f"/api/v1/blobs/{child['id']}", params={"user_id": user_id}) as response:
        assert response.status == 204  # lost, as a half-done delete of an older release could lose it
    async with api.get(f"/api/v1/users/{user_id}/books/lost-book") as response:
        view = await response.json()
    assert view["chapters"][0]["status"] == "pending"
    async with api.get(f"/api/v1/users/{user_id}/books/lost-book") as response:
        assert response.headers["X-Cache"] != "hit", "a view waiting on a processor is not kept"

    async def view() -> dict[str, Any]:
        async with api.get(f"/api/v1/users/{user_id}/books/lost-book") as response:
            return dict(await response.json())

    asked = await eventually(
        view, lambda v: any(e["status"] == "pending" for e in v["errors"]), timeout=20, what="the view asking again"
    )
    assert blob_id in asked["errors"][0]["ids"]
    await eventually(view, lambda v: v["chapters"][0]["status"] == "ok", timeout=20, what="the expansion made again")


async def test_a_compile_the_compiler_gave_up_on_shows_in_the_book_view(
    stack: Stack, api: aiohttp.ClientSession, user_id: str, internal: aiohttp.ClientSession
) -> None:
    async with api.post("/api/v1/blobs", json=draft("given-up", 1)) as response:
        assert response.status == 201
    async with api.post(f"/api/v1/users/{user_id}/books/given-up/compile") as response:
        request_id = (await response.json())["request_id"]
    # What the runtime reports when the compiler terminates that request or runs out of deliveries.
    report = {
        "key": "seq-test",
        "user_id": user_id,
        "processor_id": "book-compiler",
        "reason": "the book cannot be read",
        "book_id": "given-up",
        "request_id": request_id,
    }

    async def view() -> dict[str, Any]:
        return await book_view(api, user_id, "given-up")

    await eventually(view, lambda v: v["compiled_status"] == "ok", what="the compiled book")
    async with internal.post("/api/v1/failures", json=report) as response:
        assert response.status == 201
    failed = await view()
    assert (
        failed["compile_failure"]["reason"] == "the book cannot be read"
        and failed["compile_failure"]["request_id"] == request_id
    )
    assert failed["compiled_status"] == "ok", "an older compiled version is still shown"
    assert any(e["source"] == "book-compiler" and e["status"] == "failed" for e in failed["errors"])
    async with api.post(f"/api/v1/users/{user_id}/books/given-up/compile") as response:
        assert response.status == 202
    await eventually(
        view, lambda v: v["compile_failure"] is None, what="the failure resolved by the next compiled version"
    )
