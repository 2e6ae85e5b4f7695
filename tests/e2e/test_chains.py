"""The seeds' DAG: draft -> expansion -> summary; edits recompute down the chain in order, deletes
remove the whole chain from every store, and a registration that would close a cycle is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import aiohttp
import nats

from contracts.subjects import STREAM_NAME
from processors.runtime.consumer import durable_name
from studio_testing.events import consumer
from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually, index_entries

PROBLEM = "application/problem+json"


async def chapter(api: aiohttp.ClientSession, user_id: str, book_id: str, **params: str) -> dict[str, Any]:
    async with api.get(
        f"/api/v1/users/{user_id}/books/{book_id}", params=params, headers={"Cache-Control": "no-cache"}
    ) as response:
        assert response.status == 200, await response.text()
        return dict((await response.json())["chapters"][0])


def fresh(c: dict[str, Any]) -> bool:
    derived = c["derived"]
    return all(derived.get(p, {}).get("status") == "ok" for p in ("text-expansion", "summary"))


async def summaries_in_store(
    stack: Stack, internal: aiohttp.ClientSession, user_id: str, ids: list[str]
) -> list[dict[str, Any]]:
    async with internal.post(f"{stack.summary}/blobs/batch", json={"user_id": user_id, "ids": ids}) as response:
        assert response.status == 200
        return list((await response.json())["blobs"])


async def test_a_chain_follows_edits_in_order_and_deletes_whole(
    stack: Stack, api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str
) -> None:
    text = "The harbour froze in the night.\n\nMara walked out across the ice to the stranded boat, counting her steps."
    async with api.post("/api/v1/blobs", json=draft("chained", 1, text)) as response:
        assert response.status == 201
        blob = await response.json()
    first = await eventually(lambda: chapter(api, user_id, "chained"), fresh, what="expansion and summary")
    expansion, summary = first["derived"]["text-expansion"], first["derived"]["summary"]
    assert expansion["schema_id"] == "expanded-text-v1" and summary["schema_id"] == "chapter-summary-v1"
    words = summary["data"]["word_count"]
    assert words > 0 and summary["data"]["reading_time_minutes"] == round(words / 238, 1)  # 238 words a minute
    assert "expanded" not in first and first["status"] == "ok"  # the expansion is said once, under derived
    asked = await chapter(api, user_id, "chained", expanded="true")  # the old convenience, for who asks
    assert asked["expanded"]["id"] == expansion["id"] and asked["expanded"]["data"] == expansion["data"]
    stored = await summaries_in_store(stack, internal, user_id, [summary["id"]])
    assert stored[0]["parent_blob_id"] == expansion["id"]  # made from the expansion, not the draft

    # Edit: each level is behind until its own recompute lands; the summary never runs ahead.
    async with api.put(
        f"/api/v1/blobs/{blob['id']}", json={"data": draft("chained", 1, text + " Then the ice sang.")["data"]}
    ) as response:
        assert response.status == 200
    seen: list[tuple[str, str]] = []

    async def observe() -> dict[str, Any]:
        c = await chapter(api, user_id, "chained")
        seen.append((c["derived"]["text-expansion"]["status"], c["derived"]["summary"]["status"]))
        return c

    second = await eventually(
        observe, lambda c: fresh(c) and c["derived"]["summary"]["id"] != summary["id"], what="the recomputed chain"
    )
    assert second["derived"]["text-expansion"]["id"] != expansion["id"]
    stored = await summaries_in_store(stack, internal, user_id, [second["derived"]["summary"]["id"]])
    assert stored[0]["parent_blob_id"] == second["derived"]["text-expansion"]["id"]
    # Whenever the expansion was not yet current, neither was the summary made from it.
    assert all(s != "ok" for e, s in seen if e != "ok"), seen
    # The superseded summary is gone from its store.
    await eventually(
        lambda: summaries_in_store(stack, internal, user_id, [summary["id"]]),
        lambda found: found == [],
        what="the old summary dropped",
    )

    # The blob list likewise follows the chain.
    async with api.get(f"/api/v1/users/{user_id}/blobs", params={"book_id": "chained"}) as response:
        listed = {d["processor"]: d for d in (await response.json())["blobs"][0]["derived"]}
    assert listed["text-expansion"]["status"] == "ok" and listed["summary"]["status"] == "ok"
    assert listed["summary"]["id"] == second["derived"]["summary"]["id"] and listed["summary"]["data"]["word_count"] > 0

    # Asking for less: only the summary's store.
    only = await chapter(api, user_id, "chained", include="summary", expanded="true")
    assert list(only["derived"]) == ["summary"] and only["expanded"] is None

    # Delete the draft: the whole chain goes, from the index and from every store.
    async with api.delete(f"/api/v1/blobs/{blob['id']}") as response:
        assert response.status == 204
    final_summary = second["derived"]["summary"]["id"]
    await eventually(
        lambda: summaries_in_store(stack, internal, user_id, [final_summary]),
        lambda found: found == [],
        what="the summary deleted",
    )
    entries = await eventually(
        lambda: index_entries(internal, user_id), lambda found: not found, what="the index emptied"
    )
    assert entries == []


async def test_a_bad_include_is_a_400(api: aiohttp.ClientSession, user_id: str) -> None:
    for bad in ("", "text-expansion,../x", ",".join(f"p{n}" for n in range(40))):
        async with api.get(f"/api/v1/users/{user_id}/books/any", params={"include": bad}) as response:
            assert response.status == 400, bad
            assert response.content_type == PROBLEM


async def test_a_registration_that_closes_a_cycle_is_refused(stack: Stack, internal: aiohttp.ClientSession) -> None:
    registration = {
        "id": "cycle-maker",
        "name": "Cycle maker",
        "storage_type": "none",
        "database_name": "none",
        "input_schema_ids": ["chapter-summary-v1"],
        "output_schema_id": "text-input-v1",
        "base_url": "http://127.0.0.1:9",
    }
    async with internal.post("/api/v1/processors", json=registration) as response:
        assert response.status == 409
        problem = await response.json()
    assert problem["type"].endswith("processor-cycle")
    assert "cycle-maker -> text-expansion -> summary" in problem["errors"][0]["detail"]
    async with internal.get("/api/v1/processors/cycle-maker") as response:
        assert response.status == 404  # nothing was registered


async def test_a_cycle_through_what_a_processor_reads_is_refused(stack: Stack, internal: aiohttp.ClientSession) -> None:
    # Text expansion reads story-bible entries besides its drafts: a processor making entries
    # from expansions would feed it its own output.
    registration = {
        "id": "bible-writer",
        "name": "Bible writer",
        "storage_type": "none",
        "database_name": "none",
        "input_schema_ids": ["expanded-text-v1"],
        "output_schema_id": "codex-entry-v1",
        "base_url": "http://127.0.0.1:9",
    }
    async with internal.post("/api/v1/processors", json=registration) as response:
        assert response.status == 409, await response.text()
        problem = await response.json()
    assert "bible-writer -> text-expansion" in problem["errors"][0]["detail"]
    async with internal.get("/api/v1/processors/bible-writer") as response:
        assert response.status == 404
    # Reading is feeding too: a processor reading what it feeds is refused the same way.
    reader = {**registration, "id": "bible-reader", "input_schema_ids": ["text-input-v1"], "reads": ["summary-x-v1"]}
    reader["output_schema_id"] = "summary-x-v1"
    async with internal.post("/api/v1/processors", json=reader) as response:
        assert response.status == 409, await response.text()


async def test_an_operator_retires_a_processor_and_brings_it_back(
    stack: Stack, api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str
) -> None:
    async with api.post(
        "/api/v1/blobs", json=draft("retiring", 1, "The bell rang twice.\n\nNobody came to the door.")
    ) as response:
        assert response.status == 201
    await eventually(lambda: chapter(api, user_id, "retiring"), fresh, what="the chain before")
    env = {**os.environ, "STUDIO_INDEX_URL": stack.index, "STUDIO_SERVICE_TOKEN": stack.secrets["service_token"]}
    retired = subprocess.run(
        [sys.executable, "-m", "compose.cli", "processors", "deactivate", "summary"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        assert retired.returncode == 0, retired.stderr
        assert retired.stdout.strip() == "summary: retired"
        # Views stop waiting for it: what it made is `retired`, and a view with it is complete.
        before = await eventually(
            lambda: chapter(api, user_id, "retiring"),
            lambda c: c["derived"]["summary"]["status"] == "retired",
            what="retired",
        )
        assert before["derived"]["text-expansion"]["status"] == "ok"
        # Its consumers stopped: nobody pulls from its durable consumer any more...
        nc = await nats.connect(stack.nats_url)
        try:
            durable = durable_name("summary", "blob.created.expanded-text-v1")

            async def waiting() -> int:
                return int((await nc.jetstream().consumer_info(STREAM_NAME, durable)).num_waiting or 0)

            await eventually(waiting, lambda n: n == 0, what="the summary's pulls stopped")
        finally:
            await nc.drain()
        # ...so a new chapter is expanded, not summarised.
        async with api.post(
            "/api/v1/blobs", json=draft("retiring-2", 1, "The tide went out.\n\nThe boats lay on their sides.")
        ) as response:
            assert response.status == 201
        quiet = await eventually(
            lambda: chapter(api, user_id, "retiring-2"),
            lambda c: c["derived"]["text-expansion"]["status"] == "ok",
            what="expanded",
        )
        # The expansion's event waits in the summary's durable consumer, undelivered: it reached
        # the summary, which did not take it.
        await eventually(
            lambda: consumer(stack.nats_url, durable_name("summary", "blob.created.expanded-text-v1")),
            lambda c: c is not None and c.num_pending >= 1,
            what="the expansion's event waiting for the retired summary",
        )
        quiet = await chapter(api, user_id, "retiring-2")
        assert "summary" not in quiet["derived"], quiet["derived"]
        listing = subprocess.run(
            [sys.executable, "-m", "compose.cli", "processors", "list"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert any(line.split()[:2] == ["summary", "retired"] for line in listing.stdout.splitlines()), listing.stdout
    finally:
        async with internal.post("/api/v1/processors/summary/activate") as response:
            assert response.status == 200
            assert (await response.json())["active"] is True
    # Back: it catches up on what it missed.
    await eventually(lambda: chapter(api, user_id, "retiring-2"), fresh, what="the summary made after re-activation")
    await eventually(lambda: chapter(api, user_id, "retiring"), fresh, what="the first book's summary current again")
