"""Every announcing write puts one event on JetStream, with Nats-Msg-Id = event_id."""

from __future__ import annotations

import aiohttp
from nats.aio.client import Client

from studio_testing.events import watch
from studio_testing.payloads import draft


async def test_one_event_per_write(api: aiohttp.ClientSession, nc: Client, user_id: str) -> None:
    seen = await watch(nc, "blob.*.text-input-v1")  # processors' own events are not this test's business
    mine = lambda subject, event: event["user_id"] == user_id  # noqa: E731
    async with api.post("/api/v1/blobs", json=draft("evented", 1)) as response:
        blob = await response.json()
    async with api.put(
        f"/api/v1/blobs/{blob['id']}", json={"data": draft("evented", 1, "A second take on the chapter.")["data"]}
    ) as response:
        assert response.status == 200
    async with api.delete(f"/api/v1/blobs/{blob['id']}") as response:
        assert response.status == 204
    events = await seen.wait_for(mine, count=3)
    assert [subject for subject, _, _ in events] == [
        "blob.created.text-input-v1",
        "blob.updated.text-input-v1",
        "blob.deleted.text-input-v1",
    ]
    for _, headers, event in events:
        assert headers["Nats-Msg-Id"] == event["event_id"]
        assert event["blob_id"] == blob["id"] and event["schema_id"] == "text-input-v1"
        assert event["occurred_at"]
    created, updated, deleted = (e for _, _, e in events)
    assert (created["event"], created["version"], created["book_id"], created["chapter"]) == (
        "blob.created",
        1,
        "evented",
        1,
    )
    assert (updated["version"], updated["previous_version"]) == (2, 1)
    assert deleted["event"] == "blob.deleted"
    assert len({e["event_id"] for _, _, e in events}) == 3
    # A refused write announces nothing.
    async with api.post("/api/v1/blobs", json={"schema_id": "text-input-v1", "data": {"content": "tiny"}}) as response:
        assert response.status == 422
    async with api.post("/api/v1/blobs", json=draft(content="A last blob, to flush the stream.")) as response:
        last = await response.json()
    await seen.wait_for(lambda s, e: e["blob_id"] == last["id"])
    assert len(seen.matching(mine)) == 4
