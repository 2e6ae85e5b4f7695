"""Pitch notes through the gateway: the pitch shown with its notes, its one-pager exported, and its
length following the linked book's compiles (stale when a newer compile changed it)."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
from docx import Document
from pypdf import PdfReader

from studio_testing.payloads import draft
from studio_testing.waiting import eventually

NOTES = {
    "title": "The Lighthouse Keeper",
    "genre": "literary mystery",
    "tone": "literary",
    "logline": "A young archivist inherits a lighthouse and a ledger of ships that never came home.",
    "synopsis": "Mara Quist leaves the city for Gull Point when her uncle dies.",
    "comparables": ["The Essex Serpent", "The Lamplighters"],
    "author_name": "Ann Lee",
    "author_bio": "Ann Lee keeps a lighthouse log of her own.",
}


async def compile_and_wait(api: aiohttp.ClientSession, user_id: str, book_id: str, version: int) -> int:
    async with api.post(f"/api/v1/users/{user_id}/books/{book_id}/compile", json={"prefer": "draft"}) as response:
        assert response.status == 202

    async def versions() -> list[dict[str, Any]]:
        async with api.get(f"/api/v1/users/{user_id}/books/{book_id}/versions") as response:
            return list((await response.json())["versions"])

    found = await eventually(versions, lambda v: len(v) >= version, timeout=60, what=f"version {version}")
    return int(found[version - 1]["word_count"])


async def pitch_of(api: aiohttp.ClientSession, notes_id: str, done: Any) -> dict[str, Any]:
    async def shown() -> dict[str, Any] | None:
        async with api.get(f"/api/v1/blobs/{notes_id}") as response:
            assert response.status == 200
            return (await response.json())["pitch"]

    return dict(await eventually(shown, lambda p: p is not None and done(p), timeout=30, what="the pitch"))


async def test_a_pitch_states_its_book_length_exports_and_goes_stale(
    api: aiohttp.ClientSession, other_api: aiohttp.ClientSession, user_id: str, other_user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json=draft("keeper", 1, "The ferry left at dawn. " * 30)) as response:
        chapter = await response.json()
    words = await compile_and_wait(api, user_id, "keeper", 1)
    async with api.post(
        "/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": {**NOTES, "book_id": "keeper"}}
    ) as response:
        notes = await response.json()
        assert response.status == 201, notes
    pitch = await pitch_of(api, notes["id"], lambda p: True)
    assert pitch["manuscript"] == {"book_id": "keeper", "version": 1, "words": words} and "stale" not in pitch
    assert pitch["genre"] == "literary mystery" and pitch["author_bio"].startswith("Ann Lee")
    assert f"**Length:** {words:,} words" in pitch["one_pager"] and "## About the author: Ann Lee" in pitch["one_pager"]

    async with api.get(f"/api/v1/blobs/{notes['id']}/export", params={"format": "pdf"}) as response:
        assert response.status == 200 and response.content_type == "application/pdf"
        assert response.headers["Content-Disposition"] == 'attachment; filename="the-lighthouse-keeper-pitch.pdf"'
        reader = PdfReader(io.BytesIO(await response.read()))
    text = reader.pages[0].extract_text()
    assert len(reader.pages) == 1, "a one-pager"
    for expected in (
        "The Lighthouse Keeper",
        "literary mystery",
        f"{words:,} words",
        "ships that never came home",
        "The hook",
        "Synopsis",
        "The Essex Serpent",
        "About the author",
    ):
        assert expected in text, expected
    async with api.get(f"/api/v1/blobs/{notes['id']}/export", params={"format": "docx"}) as response:
        assert response.status == 200
        document = Document(io.BytesIO(await response.read()))
    paragraphs = [p.text for p in document.paragraphs]
    assert (
        paragraphs[0] == "The Lighthouse Keeper"
        and NOTES["logline"] in paragraphs
        and "About the author: Ann Lee" in paragraphs
    )
    async with api.get(f"/api/v1/blobs/{notes['id']}/export", params={"format": "md"}) as response:
        assert response.status == 200 and (await response.text()) == pitch["one_pager"]

    # A new compile with another length: the pitch says so, until the notes are built again.
    data = {**chapter["data"], "content": "The ferry left at dawn. " * 45}
    async with api.put(f"/api/v1/blobs/{chapter['id']}", json={"data": data, "version": 1}) as response:
        assert response.status == 200
    longer = await compile_and_wait(api, user_id, "keeper", 2)
    assert longer != words
    stale = await pitch_of(api, notes["id"], lambda p: "stale" in p)
    assert stale["stale"] == {"book_version": 2, "words": longer} and stale["manuscript"]["words"] == words
    async with api.put(
        f"/api/v1/blobs/{notes['id']}", json={"data": {**NOTES, "book_id": "keeper"}, "version": 1}
    ) as response:
        assert response.status == 200
    fresh = await pitch_of(api, notes["id"], lambda p: p["manuscript"]["version"] == 2)
    assert fresh["manuscript"]["words"] == longer and "stale" not in fresh

    async with api.get(f"/api/v1/blobs/{notes['id']}/export", params={"format": "odt"}) as response:
        assert response.status == 400 and response.content_type == "application/problem+json"
    async with api.get(f"/api/v1/blobs/{chapter['id']}/export", params={"format": "pdf"}) as response:
        assert response.status == 404 and (await response.json())["type"].endswith("no-pitch")
    async with other_api.get(f"/api/v1/blobs/{notes['id']}/export", params={"format": "pdf"}) as response:
        assert response.status == 404
    async with other_api.get(f"/api/v1/blobs/{notes['id']}") as response:
        assert response.status == 404
