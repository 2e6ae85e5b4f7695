"""A stack whose text expansion writes through a local OpenAI-compatible server the tests control
(they can take it down, count its calls and read its prompts): what the tests on it share."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from servicekit.auth import issue_token
from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.sockets import Socket
from studio_testing.waiting import eventually

EXPANSIONS_DB = "studio_text_expansion_aggregation"


async def write_book(client: aiohttp.ClientSession, user_id: str, book_id: str, chapters: int) -> list[str]:
    async with client.post(f"/api/v1/users/{user_id}/books", json={"id": book_id, "title": f"Book {book_id}"}) as r:
        assert r.status == 201
    ids = []
    for n in range(chapters, 0, -1):
        async with client.post(
            "/api/v1/blobs", json=draft(book_id, n, f"Chapter {n} opens on the harbour at dusk.")
        ) as r:
            ids.append((await r.json())["id"])
    return ids[::-1]


NO_CACHE: dict[str, str] = {"Cache-Control": "no-cache"}


async def view(
    client: aiohttp.ClientSession, user_id: str, book_id: str, *, expanded: bool = False, **headers: Any
) -> tuple[dict[str, Any], aiohttp.ClientResponse]:
    """The book view (with each chapter's expansion whole, as `expanded`, if asked)."""
    params = {"expanded": "true"} if expanded else {}
    async with client.get(f"/api/v1/users/{user_id}/books/{book_id}", params=params, headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json(), response


async def fresh(client: aiohttp.ClientSession, user_id: str, book_id: str) -> dict[str, Any]:
    """The book view built now, not from the cache."""
    body, _ = await view(client, user_id, book_id, **NO_CACHE)
    return body


async def settled(stack: Stack, client: aiohttp.ClientSession, user_id: str, book_id: str) -> dict[str, Any]:
    """The view once every chapter's expansion is there and current, and the gateway has had
    every event about them (the index publishes through its outbox a moment after it answers)."""
    body, _ = await eventually(
        lambda: view(client, user_id, book_id, **NO_CACHE),
        lambda v: all(c["status"] == "ok" for c in v[0]["chapters"]),
        timeout=30,
        what="every chapter expanded",
    )
    # A draft written now by someone else reaches their socket after every event before it: the
    # gateway has had the chapters' events (one ordered consumer reads the whole stream for it).
    # Someone else's, so that what follows of it (its expansion) drops none of this writer's views.
    marker_user = f"marker-{uuid.uuid4().hex[:12]}"
    token = issue_token(stack.secrets["jwt_secret"], marker_user)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as marking:
        socket = Socket(await marking.ws_connect("/ws"))
        try:
            await socket.wait_for("ready")
            body_of_marker = draft(content="A marker, written to know the gateway is caught up.")
            async with marking.post("/api/v1/blobs", json=body_of_marker) as response:
                assert response.status == 201, await response.text()
                marker = (await response.json())["id"]
            await socket.wait_for(lambda m: m["type"] == "blob.created" and m["blob_id"] == marker)
        finally:
            await socket.ws.close()
    return body
