"""The index service's internal API: derived blobs, the schema and processor registries, user state."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from nats.aio.client import Client

from processors.runtime.app import patiently, register_schemas
from processors.runtime.errors import SchemaRefused
from processors.runtime.index_client import IndexClient
from servicekit.client import ServiceClient
from studio_testing.events import watch
from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually, index_entries

FAKE = "test-processor"  # registrations made by hand, beside the real processors' own


def derived_body(user_id: str, parent: dict, *, version: int = 1, blob_id: str | None = None) -> dict:
    blob_id = blob_id or f"tp-{parent['id'][:12]}-v{version}"
    return {
        "id": blob_id,
        "user_id": user_id,
        "processor_id": FAKE,
        "storage_location": "mongodb://tp",
        "remote_blob_id": blob_id,
        "schema_id": "expanded-text-v1",
        "parent_id": parent["id"],
        "type": "expanded",
        "title": "Expanded",
        "preview": "The mighty vessel...",
        "size_bytes": 512,
        "source_version": version,
    }


async def test_registering_a_derived_blob_is_idempotent_and_announced(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, nc: Client, user_id: str
) -> None:
    seen = await watch(nc, "blob.created.expanded-text-v1")
    async with api.post("/api/v1/blobs", json=draft("derivations", 1)) as response:
        parent = await response.json()
    body = derived_body(user_id, parent)
    async with internal.post("/api/v1/blob-index", json=body) as response:
        assert response.status == 201
        entry = await response.json()
    async with internal.post("/api/v1/blob-index", json=body) as response:
        assert response.status == 200
        assert (await response.json())["id"] == entry["id"]
    assert entry["book_id"] == "derivations" and entry["chapter"] == 1 and entry["parent_id"] == parent["id"]
    (event,) = [e for _, _, e in await seen.wait_for(lambda s, e: e["blob_id"] == body["id"])]
    assert event["parent_id"] == parent["id"] and event["processor_id"] == FAKE

    params = {"user_id": user_id, "parent_id": parent["id"], "processor_id": FAKE}
    async with internal.get("/api/v1/blob-index", params=params) as response:
        assert [e["id"] for e in (await response.json())["entries"]] == [body["id"]]
    async with api.get(f"/api/v1/blobs/{parent['id']}") as response:
        view = await response.json()
    assert body["id"] in view["derived_ids"]
    ours = [(d["id"], d["processor"], d["status"]) for d in view["derived"] if d["processor"] == FAKE]
    assert ours == [(body["id"], FAKE, "ok")]
    async with api.get(f"/api/v1/users/{user_id}/books") as response:
        (book,) = (await response.json())["books"]
    assert book["chapters"][0]["processed_blob_ids"][FAKE] == body["id"]

    # An edit of the parent makes the derived blob stale until a new one is registered.
    async with api.put(
        f"/api/v1/blobs/{parent['id']}", json={"data": draft("derivations", 1, "Edited chapter text.")["data"]}
    ) as response:
        assert response.status == 200
    async with api.get(f"/api/v1/blobs/{parent['id']}") as response:
        assert [d["status"] for d in (await response.json())["derived"] if d["processor"] == FAKE] == ["stale"]

    # Deleting the parent deletes what was derived from it, each with its own event.
    deleted = await watch(nc, "blob.deleted.>")
    async with api.delete(f"/api/v1/blobs/{parent['id']}") as response:
        assert response.status == 204
    events = await deleted.wait_for(lambda s, e: e["blob_id"] in (parent["id"], body["id"]), count=2)
    assert {e["blob_id"] for _, _, e in events} == {parent["id"], body["id"]}
    # A processor's registration racing the delete is undone by the registration itself.
    await eventually(lambda: index_entries(internal, user_id), lambda e: e == [], timeout=5, what="no entries left")


async def processor_writes_waited(stack: Stack) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.index}/metrics", headers=stack.metrics_headers) as response:
            text = await response.text()
    (line,) = [line for line in text.splitlines() if line.startswith("studio_index_processor_writes_waited_total ")]
    return float(line.split()[1])


async def test_processors_writes_take_turns_for_a_few_places(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, stack: Stack, user_id: str
) -> None:
    """Eighty registrations at once: 4 reach the database (STUDIO_INDEX_PROCESSOR_WRITES), the others wait
    in the index, so a writer's save is never queued behind all of them; each is still written once."""
    async with api.post("/api/v1/blobs", json=draft(content="A chapter many pieces are made from.")) as response:
        parent = await response.json()
    before = await processor_writes_waited(stack)

    async def register(n: int) -> int:
        async with internal.post(
            "/api/v1/blob-index", json=derived_body(user_id, parent, blob_id=f"tp-lane-{n}")
        ) as response:
            return response.status

    assert await asyncio.gather(*(register(n) for n in range(80))) == [201] * 80
    assert await processor_writes_waited(stack) > before
    entries = await index_entries(internal, user_id, parent_id=parent["id"], processor_id=FAKE)
    assert sorted(e["id"] for e in entries) == sorted(f"tp-lane-{n}" for n in range(80))


async def test_derived_registration_is_checked(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str, other_user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json=draft(content="A parent for the checks below.")) as response:
        parent = await response.json()
    async with internal.post("/api/v1/blob-index", json=derived_body(other_user_id, parent)) as response:
        assert response.status == 404  # another user's parent does not exist for them
    async with internal.post("/api/v1/blob-index", json=derived_body(user_id, parent)) as response:
        assert response.status == 201
    hijack = {**derived_body(user_id, parent), "processor_id": "another-processor"}
    async with internal.post("/api/v1/blob-index", json=hijack) as response:
        assert response.status == 409
    async with internal.post("/api/v1/blob-index", json={"user_id": user_id}) as response:
        assert response.status == 422


async def test_schema_registry_accepts_compatible_revisions_only(internal: aiohttp.ClientSession, user_id: str) -> None:
    schema_id = f"note-{uuid.uuid4().hex[:8]}-v1"
    schema = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
    async with internal.post("/api/v1/schemas", json={"id": schema_id, "schema": schema}) as response:
        assert response.status == 201
        assert (await response.json())["revision"] == 1
    async with internal.post("/api/v1/schemas", json={"id": schema_id, "schema": schema}) as response:
        assert response.status == 200
    revised = {**schema, "properties": {**schema["properties"], "mood": {"type": "string"}}}
    async with internal.post("/api/v1/schemas", json={"id": schema_id, "schema": revised}) as response:
        assert response.status == 200
        assert (await response.json())["revision"] == 2
    retyped = {**schema, "properties": {"text": {"type": "integer"}, "mood": {"type": "string"}}}
    async with internal.post("/api/v1/schemas", json={"id": schema_id, "schema": retyped}) as response:
        assert response.status == 409
        problem = await response.json()
    assert any("/text" in e["pointer"] for e in problem["errors"])
    async with internal.post("/api/v1/schemas", json={"id": schema_id, "schema": {"type": "banana"}}) as response:
        assert response.status == 422
    async with internal.get(f"/api/v1/schemas/{schema_id}") as response:
        assert (await response.json())["schema"] == revised
    async with internal.post(f"/api/v1/schemas/{schema_id}/validate", json={"text": 3}) as response:
        result = await response.json()
    assert result["valid"] is False and result["errors"][0]["pointer"] == "/text"
    async with internal.post(
        "/api/v1/blobs", json={"user_id": user_id, "schema_id": schema_id, "data": {"text": "hi", "mood": "calm"}}
    ) as response:
        assert response.status == 201
        assert (await response.json())["type"] == schema_id.rsplit("-v", 1)[0]
    async with internal.get("/api/v1/schemas/no-such-v1") as response:
        assert response.status == 404


async def test_processor_registry(internal: aiohttp.ClientSession, nc: Client) -> None:
    seen = await watch(nc, "processor.registered.>")
    processor_id = f"proc-{uuid.uuid4().hex[:8]}"
    registration = {
        "id": processor_id,
        "name": "Test processor",
        "storage_type": "mongodb",
        "database_name": "proc",
        "input_schema_ids": ["text-input-v1"],
        "output_schema_id": "expanded-text-v1",
        "base_url": "http://127.0.0.1:1",
        "event_subscriptions": ["blob.created.text-input-v1"],
        "active": False,  # registered, never routed to: the session's views stay text expansion's
    }
    async with internal.post("/api/v1/processors", json=registration) as response:
        assert response.status == 201
    async with internal.post("/api/v1/processors", json={**registration, "max_concurrency": 8}) as response:
        assert response.status == 200
        assert (await response.json())["max_concurrency"] == 8
    async with internal.get("/api/v1/processors") as response:
        assert processor_id in [p["id"] for p in (await response.json())["processors"]]
    async with internal.post("/api/v1/processors", json={**registration, "base_url": "ftp://x"}) as response:
        assert response.status == 422
    async with internal.get(f"/api/v1/processors/{processor_id}") as response:
        registration = await response.json()
    assert "connection" not in str(registration) and "outbox" not in registration
    # Each registration is announced, so routers read the registry again.
    announced = await seen.wait_for(lambda s, e: e["processor_id"] == processor_id, count=2)
    assert {headers["Nats-Msg-Id"] for _, headers, _ in announced} == {e["event_id"] for _, _, e in announced}


async def test_user_state_counts_and_books(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str
) -> None:
    for chapter in (1, 2):
        async with api.post("/api/v1/blobs", json=draft("stateful", chapter)) as response:
            assert response.status == 201
    async with internal.get(f"/api/v1/users/{user_id}/state") as response:
        state = await response.json()
    assert state["blobs_by_processor"]["user"] == 2  # and whatever the processors made of them meanwhile
    assert state["total_blobs"] == sum(state["blobs_by_processor"].values())
    assert [b["book_id"] for b in state["books"]] == ["stateful"]
    assert state["updated_at"] is not None


async def test_a_processor_start_stops_on_a_refused_schema_naming_what_breaks(stack: Stack) -> None:
    """The runtime registers the schemas a processor owns; an incompatible revision stops it with the reasons."""
    schema_id = f"owned-{uuid.uuid4().hex[:8]}-v1"
    first = {"$id": schema_id, "type": "object", "properties": {"words": {"type": "integer"}}, "required": ["words"]}
    retyped = {**first, "properties": {"words": {"type": "string"}}}
    async with aiohttp.ClientSession() as session:
        index = IndexClient(
            ServiceClient(session, name="index", base_url=stack.index, token=stack.secrets["service_token"], timeout=10)
        )
        await patiently(lambda: register_schemas(index, {schema_id: first}))
        assert await index.schema(schema_id) == first
        with pytest.raises(SchemaRefused, match=r"words.*(type|integer)"):
            await patiently(lambda: register_schemas(index, {schema_id: retyped}))
        assert await index.schema(schema_id) == first  # the refused revision changed nothing
        assert await index.schema(f"never-{uuid.uuid4().hex[:8]}-v1") is None
