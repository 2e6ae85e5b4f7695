"""The dashboard's data and true processing states: per processor pending -> processing -> done or
failed with the reason, on the blob and in the user's state."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from studio_testing.payloads import draft
from studio_testing.waiting import eventually

ORDER = ("failed", "processing", "pending", "done")


def summed(processing: dict[str, Any]) -> str:
    states = {p["state"] for p in processing.values()}
    return next((s for s in ORDER if s in states), "done")


async def blob(api: aiohttp.ClientSession, blob_id: str) -> dict[str, Any]:
    async with api.get(f"/api/v1/blobs/{blob_id}") as response:
        assert response.status == 200
        return dict(await response.json())


async def state(api: aiohttp.ClientSession, user_id: str) -> dict[str, Any]:
    async with api.get(f"/api/v1/users/{user_id}/state") as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_a_draft_is_done_once_its_expansion_is_made(api: aiohttp.ClientSession, user_id: str) -> None:
    async with api.post(
        "/api/v1/blobs", json=draft("dash", 1, "The ferry left at dawn and the gulls followed it out.")
    ) as response:
        made = await response.json()
    done = await eventually(
        lambda: blob(api, made["id"]),
        lambda b: b["processing"].get("text-expansion", {}).get("state") == "done",
        what="done",
    )
    assert done["processing"]["text-expansion"]["derived_id"] == done["derived"][0]["id"]
    assert done["processing_state"] == summed(done["processing"])
    # An edit: pending (or processing) again until the new version's expansion is made.
    data = {**made["data"], "content": "The ferry left at noon, late, and nobody followed it."}
    async with api.put(f"/api/v1/blobs/{made['id']}", json={"data": data, "version": 1}) as response:
        assert response.status == 200
    again = await blob(api, made["id"])
    assert again["processing"]["text-expansion"]["state"] in ("pending", "processing", "done")
    await eventually(
        lambda: blob(api, made["id"]),
        lambda b: (
            b["processing"]["text-expansion"]["state"] == "done"
            and b["processing"]["text-expansion"]["derived_id"] != done["processing"]["text-expansion"]["derived_id"]
        ),
        what="done with version 2",
    )


async def test_the_users_state_lists_what_is_in_flight_and_what_failed(
    api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    other_api: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
) -> None:
    # A processor of a schema of its own that nobody runs: its items stay pending until it gives up.
    schema_id = f"dash-{uuid.uuid4().hex[:8]}-v1"
    processor_id = f"dash-{uuid.uuid4().hex[:8]}"
    schema = {"$id": schema_id, "type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    async with internal.post("/api/v1/schemas", json={"id": schema_id, "schema": schema}) as response:
        assert response.status in (200, 201), await response.text()
    registration = {
        "id": processor_id,
        "name": "Idle",
        "storage_type": "memory",
        "database_name": "none",
        "input_schema_ids": [schema_id],
        "output_schema_id": "pitch-v1",
        "base_url": "http://127.0.0.1:9",
        "event_subscriptions": [f"blob.created.{schema_id}"],
    }
    async with internal.post("/api/v1/processors", json=registration) as response:
        assert response.status in (200, 201), await response.text()
    try:
        ids = []
        for n in (1, 2):
            async with api.post("/api/v1/blobs", json={"schema_id": schema_id, "data": {"n": n}}) as response:
                assert response.status == 201
                ids.append((await response.json())["id"])
        found = await blob(api, ids[0])
        assert found["processing"] == {processor_id: {"state": "pending"}} and found["processing_state"] == "pending"
        failure = {
            "key": f"k-{ids[1]}",
            "user_id": user_id,
            "processor_id": processor_id,
            "reason": "cannot read n",
            "blob_id": ids[1],
            "source_version": 1,
        }
        async with internal.post("/api/v1/failures", json=failure) as response:
            assert response.status in (200, 201, 202), await response.text()
        failed = await blob(api, ids[1])
        assert (
            failed["processing"] == {processor_id: {"state": "failed", "reason": "cannot read n"}}
            and failed["processing_state"] == "failed"
        )

        async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "dash-book", "title": "Dash"}) as response:
            assert response.status == 201
        async with api.post("/api/v1/blobs", json=draft("dash-book", 1)) as response:
            assert response.status == 201
        now = await state(api, user_id)
        assert now["user_id"] == user_id and now["total_blobs"] >= 3 and now["blobs_by_processor"]["user"] == 3
        (book,) = [b for b in now["books"] if b["book_id"] == "dash-book"]
        assert book["chapter_count"] == 1
        assert [
            (i["blob_id"], i["processor"], i["state"]) for i in now["in_flight"] if i["processor"] == processor_id
        ] == [(ids[0], processor_id, "pending")]
        assert [(i["blob_id"], i["reason"]) for i in now["failed"]] == [(ids[1], "cannot read n")]
        theirs = await state(other_api, other_user_id)
        assert theirs["total_blobs"] == 0 and theirs["in_flight"] == [] and theirs["failed"] == []
        async with other_api.get(f"/api/v1/users/{user_id}/state") as response:
            assert response.status in (403, 404)
    finally:
        async with internal.post(
            f"/api/v1/processors/{processor_id}/deactivate", json={"reason": "test over"}
        ) as response:
            assert response.status == 200, await response.text()
