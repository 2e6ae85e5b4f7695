"""The book compiler against real PostgreSQL: ordered chapters, exact counts, versions, fallbacks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from nats.aio.client import Client

from studio_testing.events import watch
from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually, index_entries


@pytest.fixture
async def compiler(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(base_url=stack.book_compiler, headers=headers) as session:
        yield session


CONTENTS = {
    1: "The letter arrived on a Tuesday, stamped twice. Mara read it in the doorway.",
    2: "The ferry left her at the end of the spit. The tower leaned into the wind.",
    3: "Every entry in the ledger ended with a small drawing of a bell.",
}


async def write_book(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str, book_id: str
) -> dict[int, str]:
    """A titled book of three chapters, written out of order, each with its expansion registered."""
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": book_id, "title": "The Keeper"}) as response:
        assert response.status == 201
    ids = {}
    for chapter in (2, 3, 1):
        async with api.post(
            "/api/v1/blobs", json=draft(book_id, chapter, CONTENTS[chapter], title=f"Part {chapter}")
        ) as response:
            ids[chapter] = (await response.json())["id"]
    await eventually(
        lambda: index_entries(internal, user_id, processor_id="text-expansion"),
        lambda e: len(e) == 3,
        what="3 expansions",
    )
    return ids


async def compile_book(
    api: aiohttp.ClientSession, nc: Client, user_id: str, book_id: str, **body: Any
) -> dict[str, Any]:
    """Ask for a compile and wait for its `book.compiled` event."""
    seen = await watch(nc, "book.compiled")
    async with api.post(f"/api/v1/users/{user_id}/books/{book_id}/compile", json=body or None) as response:
        assert response.status == 202, await response.text()
        accepted = await response.json()
    ((_, headers, event),) = await seen.wait_for(lambda s, e: e["request_id"] == accepted["request_id"])
    assert headers["Nats-Msg-Id"] == event["event_id"]
    return event


async def fetch(compiler: aiohttp.ClientSession, user_id: str, blob_id: str) -> dict[str, Any]:
    async with compiler.get(f"/blobs/{blob_id}", params={"user_id": user_id}) as response:
        assert response.status == 200
        return dict(await response.json())


async def export(
    compiler: aiohttp.ClientSession, user_id: str, book_id: str, fmt: str = "text", version: int | None = None
) -> str:
    params = {"format": fmt, **({"version": str(version)} if version else {})}
    async with compiler.get(f"/users/{user_id}/books/{book_id}/export", params=params) as response:
        assert response.status == 200, await response.text()
        return await response.text()


def chapter_bodies(text_export: str, count: int) -> list[str]:
    """The body of each chapter of a plain-text export."""
    bodies = []
    for number in range(1, count + 1):
        start = text_export.index(f"Chapter {number}: ")
        start = text_export.index("\n\n", start) + 2
        end = text_export.find(f"\nChapter {number + 1}: ", start)
        bodies.append(text_export[start : end if end != -1 else None].strip())
    return bodies


async def test_a_three_chapter_book_compiles_in_order_with_exact_counts(
    api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    compiler: aiohttp.ClientSession,
    nc: Client,
    user_id: str,
) -> None:
    drafts = await write_book(api, internal, user_id, "keeper")
    event = await compile_book(api, nc, user_id, "keeper")
    assert (event["version"], event["chapter_count"], event.get("fallbacks", 0)) == (1, 3, 0)
    book = (await fetch(compiler, user_id, event["blob_id"]))["data"]
    assert [c["chapter"] for c in book["chapters"]] == [1, 2, 3]
    assert [c["title"] for c in book["chapters"]] == ["Part 1", "Part 2", "Part 3"]
    assert all(c["source"] == "expanded" for c in book["chapters"])
    text = await export(compiler, user_id, "keeper")
    bodies = chapter_bodies(text, 3)
    assert [len(b.split()) for b in bodies] == [c["word_count"] for c in book["chapters"]]
    assert book["word_count"] == sum(len(b.split()) for b in bodies) == event["word_count"]
    assert book["chapter_count"] == 3
    for number, body in enumerate(bodies, start=1):
        assert body.startswith(CONTENTS[number].split(".")[0])  # the expansion keeps the draft's sentences
    md = await export(compiler, user_id, "keeper", "markdown")
    assert md.startswith("# The Keeper\n") and md.index("## Chapter 1: Part 1") < md.index("## Chapter 3: Part 3")
    # The index knows the compiled book under its book id, and the book says which version is newest.
    (entry,) = await index_entries(internal, user_id, processor_id="book-compiler")
    assert (entry["id"], entry["book_id"], entry["parent_id"]) == (event["blob_id"], "keeper", None)
    async with api.get(f"/api/v1/users/{user_id}/books") as response:
        (state,) = (await response.json())["books"]
    assert (state["compiled_blob_id"], state["compiled_version"]) == (event["blob_id"], 1)
    assert drafts[1] in [c["draft_blob_id"] for c in state["chapters"]]


async def test_recompiling_after_an_edit_makes_version_2_and_keeps_version_1(
    api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    compiler: aiohttp.ClientSession,
    nc: Client,
    user_id: str,
) -> None:
    drafts = await write_book(api, internal, user_id, "edited")
    first = await compile_book(api, nc, user_id, "edited")
    edit = draft("edited", 2, "A storm closed the causeway before the ferry could leave.", title="Part 2")
    async with api.put(f"/api/v1/blobs/{drafts[2]}", json={"data": edit["data"]}) as response:
        assert response.status == 200
    await eventually(
        lambda: index_entries(internal, user_id, processor_id="text-expansion", parent_id=drafts[2]),
        lambda e: len(e) == 1 and e[0]["source_version"] == 2,
        what="the edited chapter's new expansion",
    )
    second = await compile_book(api, nc, user_id, "edited")
    assert (first["version"], second["version"]) == (1, 2) and first["blob_id"] != second["blob_id"]
    assert "storm" in await export(compiler, user_id, "edited", version=2)
    old = await export(compiler, user_id, "edited", version=1)
    assert "storm" not in old and "ferry left her" in old
    assert (await fetch(compiler, user_id, first["blob_id"]))["data"]["version"] == 1
    async with compiler.get(f"/users/{user_id}/books/edited/versions") as response:
        assert [v["version"] for v in (await response.json())["versions"]] == [1, 2]


async def test_a_missing_expansion_falls_back_to_the_draft_and_says_so(
    api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    compiler: aiohttp.ClientSession,
    nc: Client,
    user_id: str,
) -> None:
    drafts = await write_book(api, internal, user_id, "partial")
    (expansion,) = await index_entries(internal, user_id, processor_id="text-expansion", parent_id=drafts[3])
    async with api.delete(f"/api/v1/blobs/{expansion['id']}") as response:
        assert response.status == 204
    event = await compile_book(api, nc, user_id, "partial")
    assert event.get("fallbacks", 0) == 1
    chapters = (await fetch(compiler, user_id, event["blob_id"]))["data"]["chapters"]
    assert [c["source"] for c in chapters] == ["expanded", "expanded", "draft"]
    assert chapters[2]["fallback_reason"] == "no expansion of this chapter yet"
    assert chapter_bodies(await export(compiler, user_id, "partial"), 3)[2] == CONTENTS[3]
    # Asking for drafts is not a fallback.
    drafts_only = await compile_book(api, nc, user_id, "partial", prefer="draft")
    assert drafts_only.get("fallbacks", 0) == 0
    assert {c["source"] for c in (await fetch(compiler, user_id, drafts_only["blob_id"]))["data"]["chapters"]} == {
        "draft"
    }


async def test_the_same_compile_request_twice_makes_one_version(
    api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    compiler: aiohttp.ClientSession,
    nc: Client,
    user_id: str,
) -> None:
    await write_book(api, internal, user_id, "twice")
    requests = await watch(nc, "book.compile.requested")
    await compile_book(api, nc, user_id, "twice")
    ((subject, _, command),) = requests.matching(lambda s, e: e["user_id"] == user_id)
    compiled = await watch(nc, "book.compiled")
    await nc.jetstream().publish(subject, msgspec.json.encode(command), headers={"Nats-Msg-Id": uuid.uuid4().hex})
    await compile_book(api, nc, user_id, "twice")  # a later, distinct request: a marker that the first was handled
    async with compiler.get(f"/users/{user_id}/books/twice/versions") as response:
        assert [v["version"] for v in (await response.json())["versions"]] == [1, 2]
    assert len(compiled.matching(lambda s, e: e["request_id"] == command["event_id"])) == 0


async def test_bad_compile_requests_are_refused_and_start_nothing(
    api: aiohttp.ClientSession, other_api: aiohttp.ClientSession, nc: Client, user_id: str
) -> None:
    requests = await watch(nc, "book.compile.requested")
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "empty", "title": "Nothing yet"}) as response:
        assert response.status == 201
    async with api.post("/api/v1/blobs", json=draft("mine", 1)) as response:
        assert response.status == 201
    cases = [
        (api, f"/api/v1/users/{user_id}/books/unknown/compile", None, 404, "book-not-found"),
        (api, f"/api/v1/users/{user_id}/books/empty/compile", None, 422, "book-empty"),
        (api, f"/api/v1/users/{user_id}/books/mine/compile", {"prefer": "neither"}, 422, "validation-failed"),
        (other_api, f"/api/v1/users/{user_id}/books/mine/compile", None, 404, "not-found"),
    ]
    for session, path, body, status, code in cases:
        async with session.post(path, json=body) as response:
            assert response.status == status, (path, await response.text())
            assert response.content_type == "application/problem+json"
            assert (await response.json())["type"].endswith(code)
    async with api.post(f"/api/v1/users/{user_id}/books/mine/compile") as response:
        accepted = await response.json()
    await requests.wait_for(lambda s, e: e["event_id"] == accepted["request_id"])
    assert [e["book_id"] for _, _, e in requests.matching(lambda s, e: e["user_id"] == user_id)] == ["mine"]
