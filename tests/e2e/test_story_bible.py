"""The story bible steers text expansion: each section's prompt carries the entries the rule
chooses, its receipt says which and why, and a changed entry makes exactly the sections that
used it stale and writes those (and only those) again. Provider calls are counted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp

from servicekit.auth import issue_token
from studio_testing.fake_openai import ThreadedProvider
from studio_testing.harness import ServiceProcess, Stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually
from tests.e2e.expanding import fresh, settled

CODEX = "codex-entry-v1"
Agg = tuple[Stack, ServiceProcess]
# Chapters 1, 3 and 5 name Mara (once by an alias); 2, 4 and 6 do not.
CHAPTERS = {
    1: "Mara Quist climbed the lighthouse stairs.\n\nThe lamp was cold.",
    2: "The ferry left at noon.\n\nNobody waved.",
    3: "The gulls circled.\n\nQuist counted the boats, as her father had.",
    4: "Rain came in from the sea.\n\nThe harbour emptied.",
    5: "At dusk, Mara closed the archive.\n\nShe kept the key.",
    6: "The town slept.\n\nA dog barked once.",
}


async def write(client: aiohttp.ClientSession, user_id: str, book_id: str) -> dict[int, str]:
    async with client.post(f"/api/v1/users/{user_id}/books", json={"id": book_id, "title": "The Lamp"}) as r:
        assert r.status == 201, await r.text()
    ids = {}
    for number, text in CHAPTERS.items():
        async with client.post("/api/v1/blobs", json=draft(book_id, number, text)) as r:
            assert r.status == 201, await r.text()
            ids[number] = (await r.json())["id"]
    return ids


async def add_entry(client: aiohttp.ClientSession, **data: Any) -> dict[str, Any]:
    async with client.post("/api/v1/blobs", json={"schema_id": CODEX, "data": data}) as r:
        assert r.status == 201, await r.text()
        return dict(await r.json())


def expansions(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c["chapter"]: c["derived"]["text-expansion"] for c in body["chapters"]}


@contextmanager
def slowed(provider: ThreadedProvider) -> Iterator[None]:
    """The model's first token 2 s away: long enough to read a stale view while sections are rewritten."""
    provider.provider.first_token_seconds = 2.0
    try:
        yield
    finally:
        provider.provider.first_token_seconds = 0.0


async def stale_view(client: aiohttp.ClientSession, user_id: str, what: str) -> dict[str, Any]:
    """The book view once some chapter of it is stale."""
    return await eventually(
        lambda: fresh(client, user_id, "lamp"), lambda v: any(c["status"] == "stale" for c in v["chapters"]), what=what
    )


async def versions(stack: Stack, user_id: str) -> dict[str, int]:
    """Parent draft id -> the version of the index entry of its expansion (made again: a new version)."""
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    params = {"user_id": user_id, "processor_id": "text-expansion", "limit": "500"}
    async with (
        aiohttp.ClientSession(base_url=stack.index, headers=headers) as internal,
        internal.get("/api/v1/blob-index", params=params) as r,
    ):
        assert r.status == 200, await r.text()
        return {e["parent_id"]: e["version"] for e in (await r.json())["entries"]}


PARAGRAPHS = {p for text in CHAPTERS.values() for p in text.split("\n\n")}


def written_since(provider: ThreadedProvider, start: int) -> list[str]:
    """The sections of these chapters the provider was asked to write since `start` (other writers' are left out)."""
    return [str(p[-1]["content"]) for p in provider.provider.prompts[start:] if p[-1]["content"] in PARAGRAPHS]


def naming(body: dict[str, Any], entry_id: str) -> dict[int, int]:
    """Chapter -> how many of its sections' receipts name the entry."""
    found = {}
    for chapter, made in expansions(body).items():
        count = sum(any(u["entry_id"] == entry_id for u in s["receipt"]) for s in made["data"]["sections"])
        if count:
            found[chapter] = count
    return found


async def test_receipts_say_which_entries_each_section_used_and_why(
    agg: Agg, provider: ThreadedProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    mara = await add_entry(
        client,
        name="Mara Quist",
        kind="character",
        aliases=["Mara", "Quist"],
        description="An archivist.",
        book_id="lamp",
    )
    point = await add_entry(client, name="Gull Point", kind="place", description="A cape.", always_include=True)
    prompts_before = len(provider.provider.prompts)
    await write(client, user_id, "lamp")
    body = await settled(stack, client, user_id, "lamp")
    made = expansions(body)
    first = made[1]["data"]["sections"][0]
    assert [(u["name"], u["why"]) for u in first["receipt"]] == [
        ("Gull Point", "always"),
        ("Mara Quist", "matched 'Mara Quist' in paragraph 1"),
    ]
    assert all(u["entry_version"] == 1 and u["tokens"] > 0 for u in first["receipt"])
    assert first["receipt"][1]["entry_id"] == mara["id"] and first["receipt"][0]["entry_id"] == point["id"]
    quist = made[3]["data"]["sections"][1]  # "Quist counted the boats": the second paragraph, by an alias
    assert ("Mara Quist", "matched 'Quist' in paragraph 2") in [(u["name"], u["why"]) for u in quist["receipt"]]
    assert [u["name"] for u in made[2]["data"]["sections"][0]["receipt"]] == ["Gull Point"]
    assert set(naming(body, mara["id"])) == {1, 3, 5}
    # What a receipt lists is what the prompt carried.
    prompts = [str(p) for p in provider.provider.prompts[prompts_before:] if p[-1]["content"] in PARAGRAPHS]
    assert len(prompts) == len(PARAGRAPHS)
    assert any("Mara Quist (also: Mara, Quist), character: An archivist." in p for p in prompts)
    assert all("Gull Point, place: A cape." in p for p in prompts)


async def test_an_edited_entry_rewrites_exactly_the_sections_that_used_it(
    agg: Agg, provider: ThreadedProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    ids = await write(client, user_id, "lamp")
    await settled(stack, client, user_id, "lamp")
    mara = await add_entry(client, name="Mara Quist", kind="character", aliases=["Mara"], book_id="lamp")
    body = await eventually(
        lambda: fresh(client, user_id, "lamp"),
        lambda v: set(naming(v, mara["id"])) == {1, 5} and all(c["status"] == "ok" for c in v["chapters"]),
        what="chapters 1 and 5 written again with the new entry",  # "Quist" alone is no alias here
    )
    using = naming(body, mara["id"])  # a section and its neighbours: both sections of each
    assert using == {1: 2, 5: 2}
    before = await versions(stack, user_id)
    assert {n for n, draft_id in ids.items() if before[draft_id] == 2} == {1, 5}
    calls = len(provider.provider.prompts)
    with slowed(provider):
        changed = {"name": "Mara Quist", "kind": "character", "aliases": ["Mara"], "book_id": "lamp"}
        changed["description"] = "The archivist, now keeper of the lamp."
        async with client.put(f"/api/v1/blobs/{mara['id']}", json={"data": changed, "version": 1}) as r:
            assert r.status == 200, await r.text()
        stale = await stale_view(client, user_id, "the chapters that used the entry stale")
    for chapter in stale["chapters"]:
        if chapter["status"] == "stale":
            assert chapter["chapter"] in using
            assert chapter["reason"] == "'Mara Quist' changed (v1 -> v2)"
            sections = chapter["derived"]["text-expansion"]["data"]["sections"]
            marked = [s for s in sections if s.get("status") == "stale"]
            assert len(marked) == using[chapter["chapter"]]
            assert all(s["stale_reason"] == "'Mara Quist' changed (v1 -> v2)" for s in marked)
    after = await settled(stack, client, user_id, "lamp")
    assert len(written_since(provider, calls)) == sum(using.values())  # the sections that used it, no others
    for number, made in expansions(after).items():
        if number in using:
            assert all(u["entry_version"] == 2 for s in made["data"]["sections"] for u in s["receipt"])
    # Made again: the chapters that used it; the others were not touched, not even registered again.
    made_again = await versions(stack, user_id)
    assert {n: made_again[draft_id] - before[draft_id] for n, draft_id in ids.items()} == {
        n: 1 if n in using else 0 for n in ids
    }


async def test_a_new_entry_reaches_the_chapters_that_name_it_and_a_deleted_one_leaves_them(
    agg: Agg, provider: ThreadedProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    await write(client, user_id, "lamp")
    await settled(stack, client, user_id, "lamp")
    calls = len(provider.provider.prompts)
    with slowed(provider):
        key = await add_entry(client, name="key", kind="object", description="Iron, heavy.", book_id="lamp")
        # No section used it yet: the chapter that names it shows stale, with why, until it is made again.
        waiting = await stale_view(client, user_id, "the chapter that names the new entry stale")
    assert [(c["chapter"], c["reason"]) for c in waiting["chapters"] if c["status"] == "stale"] == [(5, "'key' is new")]
    body = await eventually(
        lambda: fresh(client, user_id, "lamp"),
        lambda v: naming(v, key["id"]) == {5: 2} and all(c["status"] == "ok" for c in v["chapters"]),
        what="chapter 5's sections written again with the new entry",
    )
    # "She kept the key.", and the section before it (a neighbour): two sections of one chapter.
    assert sorted(written_since(provider, calls)) == ["At dusk, Mara closed the archive.", "She kept the key."]
    # Text expansion reads entries; it makes nothing of them: no entry waits on it.
    async with client.get(f"/api/v1/blobs/{key['id']}") as r:
        assert (await r.json())["processing"] == {}
    async with client.get(f"/api/v1/users/{user_id}/state") as r:
        assert key["id"] not in {item["blob_id"] for item in (await r.json())["in_flight"]}
    calls = len(provider.provider.prompts)
    async with client.delete(f"/api/v1/blobs/{key['id']}") as r:
        assert r.status == 204
    await eventually(
        lambda: fresh(client, user_id, "lamp"),
        lambda v: naming(v, key["id"]) == {} and all(c["status"] == "ok" for c in v["chapters"]),
        what="the deleted entry gone from every receipt",
    )
    # Without the entry those sections' prompts are the ones they had before: reused, or written again.
    assert len(written_since(provider, calls)) <= 2
    assert body["codex"][0]["id"] == key["id"]


async def test_another_writers_entry_is_never_in_a_receipt(
    agg: Agg, provider: ThreadedProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    other = f"{user_id}-other"
    headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], other)}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as theirs:
        await add_entry(theirs, name="Mara", kind="character", description="Someone else's Mara.", always_include=True)
    await write(client, user_id, "lamp")
    body = await settled(stack, client, user_id, "lamp")
    assert all(not s["receipt"] for made in expansions(body).values() for s in made["data"]["sections"])
    assert body["codex"] == []
