"""The story bible: entries are user blobs like drafts, listed with their book, and nobody else's."""

from __future__ import annotations

from typing import Any

import aiohttp

from studio_testing.payloads import draft

CODEX = "codex-entry-v1"


def entry(name: str, kind: str = "character", **fields: Any) -> dict[str, Any]:
    return {"schema_id": CODEX, "data": {"name": name, "kind": kind, **fields}}


async def book_view(api: aiohttp.ClientSession, user_id: str, book_id: str) -> dict[str, Any]:
    async with api.get(f"/api/v1/users/{user_id}/books/{book_id}", headers={"Cache-Control": "no-cache"}) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_entries_are_written_like_drafts_and_listed_with_their_book(
    api: aiohttp.ClientSession, user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json=draft("bible", 1, "Mara walked out to Gull Point.")) as response:
        assert response.status == 201
    made = {}
    for body in (
        entry("Mara Quist", aliases=["Mara"], description="An archivist.", book_id="bible"),
        entry("Gull Point", "place", description="A cape.", always_include=True),  # every book of the writer
        entry("Anchor", "object", description="Rusted.", book_id="bible"),
    ):
        async with api.post("/api/v1/blobs", json=body) as response:
            assert response.status == 201, await response.text()
            blob = await response.json()
            made[blob["data"]["name"]] = blob
    assert made["Mara Quist"]["book_id"] == "bible" and made["Mara Quist"]["type"] == "codex-entry"
    assert "book_id" not in made["Gull Point"] or made["Gull Point"]["book_id"] is None
    view = await book_view(api, user_id, "bible")
    assert [e["data"]["name"] for e in view["codex"]] == [
        "Anchor",
        "Mara Quist",
        "Gull Point",
    ]  # own, then every book's
    assert [c["chapter"] for c in view["chapters"]] == [1]  # an entry is not a chapter
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "sequel", "title": "Sequel"}) as response:
        assert response.status == 201
    assert [e["data"]["name"] for e in (await book_view(api, user_id, "sequel"))["codex"]] == ["Gull Point"]

    mara = made["Mara Quist"]
    changed = {**mara["data"], "description": "An archivist, now the keeper.", "from_chapter": 12}
    async with api.put(f"/api/v1/blobs/{mara['id']}", json={"data": changed, "version": 1}) as response:
        assert response.status == 200
        assert (await response.json())["version"] == 2
    async with api.put(f"/api/v1/blobs/{mara['id']}", json={"data": changed, "version": 1}) as response:
        assert response.status == 412
    listed = {e["data"]["name"]: e for e in (await book_view(api, user_id, "bible"))["codex"]}
    assert listed["Mara Quist"]["version"] == 2 and listed["Mara Quist"]["data"]["from_chapter"] == 12

    async with api.delete(f"/api/v1/blobs/{made['Anchor']['id']}") as response:
        assert response.status == 204
    assert [e["data"]["name"] for e in (await book_view(api, user_id, "bible"))["codex"]] == [
        "Mara Quist",
        "Gull Point",
    ]


async def test_an_entry_the_schema_refuses_is_a_422_naming_the_field(api: aiohttp.ClientSession) -> None:
    for body, pointer in (
        (entry("Mara", kind="hero"), "/data/kind"),
        (entry("   "), "/data/name"),
        (entry("Mara", book_id="../other"), "/data/book_id"),
        (entry("Mara", from_chapter=0), "/data/from_chapter"),
        (entry("Mara", secret="x"), "/data"),
    ):
        async with api.post("/api/v1/blobs", json=body) as response:
            assert response.status == 422, (body, await response.text())
            problem = await response.json()
            assert response.content_type == "application/problem+json"
            assert [e["pointer"] for e in problem["errors"]] == [pointer], problem


async def test_another_writer_never_sees_or_touches_an_entry(
    api: aiohttp.ClientSession, other_api: aiohttp.ClientSession, user_id: str, other_user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json=entry("Elias", book_id="private-bible")) as response:
        mine = await response.json()
    async with api.post("/api/v1/blobs", json=entry("Ferry", "object")) as response:
        series = await response.json()
    async with other_api.post(
        f"/api/v1/users/{other_user_id}/books", json={"id": "private-bible", "title": "Theirs"}
    ) as r:
        assert r.status == 201
    theirs = await book_view(other_api, other_user_id, "private-bible")
    assert theirs["codex"] == []
    for blob in (mine, series):
        async with other_api.get(f"/api/v1/blobs/{blob['id']}") as response:
            assert response.status == 404
        async with other_api.put(f"/api/v1/blobs/{blob['id']}", json={"data": blob["data"], "version": 1}) as response:
            assert response.status == 404
        async with other_api.delete(f"/api/v1/blobs/{blob['id']}") as response:
            assert response.status == 404
    async with other_api.get(f"/api/v1/users/{user_id}/books/private-bible") as response:
        assert response.status == 404
    assert [e["id"] for e in (await book_view(api, user_id, "private-bible"))["codex"]] == [mine["id"], series["id"]]
