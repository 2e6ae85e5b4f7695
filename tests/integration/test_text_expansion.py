"""Text expansion in the running stack (offline expander): one expansion per draft, its query API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from nats.aio.client import Client

from servicekit.auth import issue_token
from studio_testing.events import watch
from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually, index_entries

PROCESSOR = "text-expansion"


@pytest.fixture
async def expansion_api(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(base_url=stack.text_expansion, headers=headers) as session:
        yield session


async def expansions(
    internal: aiohttp.ClientSession, user_id: str, parent_id: str | None = None
) -> list[dict[str, Any]]:
    filters = {"processor_id": PROCESSOR, **({"parent_id": parent_id} if parent_id else {})}
    return await index_entries(internal, user_id, **filters)


async def test_a_draft_gets_exactly_one_expansion(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, expansion_api: aiohttp.ClientSession, user_id: str
) -> None:
    content = (
        "The ferry left her at the end of a shingle spit. The tower leaned a little into the wind. "
        "Inside, the lamp room was clean, as if someone had climbed the stairs that morning."
    )
    async with api.post(
        "/api/v1/blobs", json=draft("harbour", 2, content, title="Gull Point", style="formal")
    ) as response:
        parent = await response.json()
    (entry,) = await eventually(
        lambda: expansions(internal, user_id, parent["id"]), lambda e: len(e) == 1, what="an expansion"
    )
    assert entry["parent_id"] == parent["id"] and entry["source_version"] == 1
    assert (entry["book_id"], entry["chapter"], entry["title"]) == ("harbour", 2, "Gull Point")
    assert entry["preview"].startswith("The ferry left her") and len(entry["preview"]) <= 200
    async with expansion_api.get(f"/blobs/{entry['id']}", params={"user_id": user_id}) as response:
        assert response.status == 200
        blob = await response.json()
    data = blob["data"]
    assert data["original"] == content and blob["model_used"] == "offline" and blob["source_version"] == 1
    assert 3.0 <= data["expansion_ratio"] <= 5.0
    sentences = [s for s in data["expanded"].replace("\n", " ").split(". ") if s]
    assert len(sentences) == len(set(sentences)), "no sentence is repeated"
    assert set(data["style_analysis"]) >= {"tone", "complexity", "readability_score", "vocabulary_level"}
    assert data["style"] == "formal" and data["style_analysis"]["tone"] in {
        "formal",
        "lyrical",
        "conversational",
        "neutral",
    }
    assert [s["index"] for s in data["sections"]] == list(range(1, len(data["sections"]) + 1))
    # The parent's view and its book show the expansion.
    async with api.get(f"/api/v1/blobs/{parent['id']}") as response:
        assert [(d["id"], d["status"]) for d in (await response.json())["derived"]] == [(entry["id"], "ok")]
    async with api.get(f"/api/v1/users/{user_id}/books") as response:
        (book,) = (await response.json())["books"]
    assert book["chapters"][0]["processed_blob_ids"] == {PROCESSOR: entry["id"]}


async def test_a_duplicate_event_makes_no_second_blob(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, nc: Client, user_id: str, stack: Stack
) -> None:
    seen = await watch(nc, "blob.created.text-input-v1")
    async with api.post("/api/v1/blobs", json=draft(content="A draft that will be announced twice over.")) as response:
        parent = await response.json()
    ((subject, _, event),) = await seen.wait_for(lambda s, e: e["blob_id"] == parent["id"])
    await eventually(lambda: expansions(internal, user_id, parent["id"]), lambda e: len(e) == 1, what="an expansion")
    # The same event again, under a new message id so JetStream does not drop it as a duplicate.
    for _ in range(2):
        await nc.jetstream().publish(subject, msgspec.json.encode(event), headers={"Nats-Msg-Id": uuid.uuid4().hex})
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {stack.secrets['service_token']}"}) as session:

        async def duplicates_seen() -> float:
            async with session.get(stack.text_expansion + "/metrics", headers=stack.metrics_headers) as response:
                text = await response.text()
            line = next(
                (
                    row
                    for row in text.splitlines()
                    if row.startswith('studio_processor_messages_total{outcome="duplicate"')
                ),
                "",
            )
            return float(line.rsplit(" ", 1)[1]) if line else 0.0

        await eventually(duplicates_seen, lambda n: n >= 2, what="two duplicates handled")
    assert len(await expansions(internal, user_id, parent["id"])) == 1


async def test_an_update_makes_a_new_version_and_a_delete_removes_it_everywhere(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, expansion_api: aiohttp.ClientSession, user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json=draft("revised", 1, "The first take of the opening scene.")) as response:
        parent = await response.json()
    (first,) = await eventually(lambda: expansions(internal, user_id, parent["id"]), lambda e: len(e) == 1, what="v1")
    new = draft("revised", 1, "The second take of the opening scene, with a storm coming in.")
    async with api.put(f"/api/v1/blobs/{parent['id']}", json={"data": new["data"]}) as response:
        assert response.status == 200
    (second,) = await eventually(
        lambda: expansions(internal, user_id, parent["id"]),
        lambda e: len(e) == 1 and e[0]["source_version"] == 2,
        what="v2 replacing v1",
    )
    assert second["id"] != first["id"]

    async def first_in_store() -> int:
        async with expansion_api.get(f"/blobs/{first['id']}", params={"user_id": user_id}) as response:
            return response.status

    # The index drops the superseded entry first, then the store its copy.
    await eventually(first_in_store, lambda status: status == 404, what="v1 gone from the store")
    async with expansion_api.get(f"/blobs/{second['id']}", params={"user_id": user_id}) as response:
        assert "storm" in (await response.json())["data"]["original"]
    async with api.delete(f"/api/v1/blobs/{parent['id']}") as response:
        assert response.status == 204

    async def stored() -> int:
        async with expansion_api.get(f"/users/{user_id}/blobs") as response:
            return len((await response.json())["blobs"])

    await eventually(stored, lambda n: n == 0, what="the expansion deleted from its store")
    assert await expansions(internal, user_id) == []


async def test_the_query_api_filters_by_user_and_needs_the_service_token(
    api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    expansion_api: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
    stack: Stack,
) -> None:
    async with api.post("/api/v1/blobs", json=draft(content="Only its owner may read what comes of this.")) as response:
        parent = await response.json()
    (entry,) = await eventually(
        lambda: expansions(internal, user_id, parent["id"]), lambda e: len(e) == 1, what="an expansion"
    )
    async with expansion_api.post("/blobs/batch", json={"user_id": user_id, "ids": [entry["id"], "nope"]}) as response:
        mine = await response.json()
    assert [b["id"] for b in mine["blobs"]] == [entry["id"]] and mine["missing"] == ["nope"]
    async with expansion_api.post("/blobs/batch", json={"user_id": other_user_id, "ids": [entry["id"]]}) as response:
        theirs = await response.json()
    assert theirs == {"blobs": [], "missing": [entry["id"]]}
    async with expansion_api.get(f"/blobs/{entry['id']}", params={"user_id": other_user_id}) as response:
        assert response.status == 404
    async with expansion_api.get(f"/users/{other_user_id}/blobs") as response:
        assert (await response.json())["blobs"] == []
    async with expansion_api.post("/blobs/batch", json={"ids": ["x"]}) as response:
        assert response.status == 422
    user_token = issue_token(stack.secrets["jwt_secret"], user_id)
    async with aiohttp.ClientSession(base_url=stack.text_expansion) as anonymous:
        for headers in ({}, {"Authorization": f"Bearer {user_token}"}):
            async with anonymous.post(
                "/blobs/batch", json={"user_id": user_id, "ids": [entry["id"]]}, headers=headers
            ) as response:
                assert response.status == 401


async def test_the_processor_registered_itself(internal: aiohttp.ClientSession, stack: Stack) -> None:
    async with internal.get(f"/api/v1/processors/{PROCESSOR}") as response:
        registration = await response.json()
    assert (
        registration["input_schema_ids"] == ["text-input-v1"] and registration["output_schema_id"] == "expanded-text-v1"
    )
    assert registration["base_url"] == stack.text_expansion and registration["storage_type"] == "mongodb"
    assert "blob.created.text-input-v1" in registration["event_subscriptions"]
