"""The public API end to end: blobs, books, bad input, and who may see what."""

from __future__ import annotations

import io
import time

import aiohttp
import jwt

from servicekit.auth import issue_token
from studio_testing.harness import Stack
from studio_testing.payloads import draft

PROBLEM = "application/problem+json"


async def _blob_count(api: aiohttp.ClientSession, user_id: str) -> int:
    async with api.get(f"/api/v1/users/{user_id}/blobs", params={"limit": "500"}) as response:
        assert response.status == 200
        return len((await response.json())["blobs"])


async def test_create_read_update_delete_a_blob(api: aiohttp.ClientSession, user_id: str) -> None:
    async with api.post("/api/v1/blobs", json=draft(content="The ship sailed at dawn and nobody waved.")) as response:
        assert response.status == 201
        created = await response.json()
        assert response.headers["Location"] == f"/api/v1/blobs/{created['id']}"
    assert created["version"] == 1 and created["user_id"] == user_id and created["type"] == "text-input"
    async with api.get(f"/api/v1/blobs/{created['id']}") as response:
        assert response.status == 200
        fetched = await response.json()
    assert fetched["data"] == created["data"] and fetched["derived"] == []
    new_data = {"content": "The ship sailed at dawn; only the harbourmaster waved."}
    async with api.put(f"/api/v1/blobs/{created['id']}", json={"data": new_data}) as response:
        assert response.status == 200
        updated = await response.json()
    assert updated["version"] == 2 and updated["data"] == new_data
    async with api.put(f"/api/v1/blobs/{created['id']}", json={"data": new_data, "version": 1}) as response:
        assert response.status == 412 and response.content_type == PROBLEM
    async with api.delete(f"/api/v1/blobs/{created['id']}") as response:
        assert response.status == 204
    async with api.get(f"/api/v1/blobs/{created['id']}") as response:
        assert response.status == 404 and response.content_type == PROBLEM
    async with api.delete(f"/api/v1/blobs/{created['id']}") as response:
        assert response.status == 404


async def test_drafts_file_themselves_under_their_book(api: aiohttp.ClientSession, user_id: str) -> None:
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "saga", "title": "The Saga"}) as response:
        assert response.status == 201
        assert (await response.json())["title"] == "The Saga"
    ids = {}
    for chapter in (3, 1, 2):
        async with api.post("/api/v1/blobs", json=draft("saga", chapter, title=f"Part {chapter}")) as response:
            assert response.status == 201
            ids[chapter] = (await response.json())["id"]
    # A draft naming a book that does not exist yet creates it.
    async with api.post("/api/v1/blobs", json=draft("sequel", 1)) as response:
        assert response.status == 201
    async with api.get(f"/api/v1/users/{user_id}/books") as response:
        books = {b["book_id"]: b for b in (await response.json())["books"]}
    assert set(books) == {"saga", "sequel"}
    saga = books["saga"]
    assert [c["chapter"] for c in saga["chapters"]] == [1, 2, 3]
    assert [c["draft_blob_id"] for c in saga["chapters"]] == [ids[1], ids[2], ids[3]]
    assert [c["title"] for c in saga["chapters"]] == ["Part 1", "Part 2", "Part 3"]
    assert books["sequel"]["title"] == "sequel"
    # Naming the draft-made book later keeps its chapters; a second book under one id is a conflict.
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "sequel", "title": "The Sequel"}) as response:
        assert response.status == 201
        assert [c["chapter"] for c in (await response.json())["chapters"]] == [1]
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "saga", "title": "Again"}) as response:
        assert response.status == 409 and response.content_type == PROBLEM


async def test_a_chapter_has_one_draft(api: aiohttp.ClientSession, user_id: str) -> None:
    async with api.post("/api/v1/blobs", json=draft("novel", 1)) as response:
        first = await response.json()
    async with api.post("/api/v1/blobs", json=draft("novel", 1)) as response:
        assert response.status == 409
        problem = await response.json()
    assert first["id"] in problem["detail"] and problem["errors"][0]["pointer"] == "/data/metadata/chapter"
    # Moving the draft to chapter 2 frees chapter 1; deleting it removes it from the book.
    body = draft("novel", 2)
    async with api.put(f"/api/v1/blobs/{first['id']}", json={"data": body["data"]}) as response:
        assert response.status == 200
    async with api.post("/api/v1/blobs", json=draft("novel", 1)) as response:
        assert response.status == 201
    async with api.delete(f"/api/v1/blobs/{first['id']}") as response:
        assert response.status == 204
    async with api.get(f"/api/v1/users/{user_id}/books") as response:
        (book,) = (await response.json())["books"]
    assert [c["chapter"] for c in book["chapters"]] == [1]


async def test_listing_pages_with_a_cursor_and_filters(api: aiohttp.ClientSession, user_id: str) -> None:
    for chapter in range(1, 6):
        async with api.post("/api/v1/blobs", json=draft("paged", chapter)) as response:
            assert response.status == 201
    async with api.post("/api/v1/blobs", json=draft(content="A note that belongs to no book at all.")) as response:
        assert response.status == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"book_id": "paged", "limit": "2", **({"cursor": cursor} if cursor else {})}
        async with api.get(f"/api/v1/users/{user_id}/blobs", params=params) as response:
            page = await response.json()
        seen += [b["id"] for b in page["blobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    async with api.get(f"/api/v1/users/{user_id}/blobs", params={"cursor": "garbage!"}) as response:
        assert response.status == 422


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(api: aiohttp.ClientSession, user_id: str) -> None:
    before = await _blob_count(api, user_id)
    headers = {"Content-Type": "application/json"}
    cases = [
        (b'{"schema_id": "text-input-v1", "data": {"content": ', 400, "malformed-json"),
        (b'{"schema_id": "text-input-v1", "data": ' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}", 400, "json-too-deep"),
        (b'{"schema_id": "text-input-v1", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "json-too-deep"),
        (
            b'{"schema_id": "text-input-v1", "data": {"content": "' + b"x" * (1024 * 1024 + 10) + b'"}}',
            413,
            "payload-too-large",
        ),
        (b'{"schema_id": "no-such-schema-v1", "data": {"content": "long enough text"}}', 422, "unknown-schema"),
        (
            b'{"schema_id": "text-input-v1", "data": {"content": "short", "metadata": {"style": "loud"}}}',
            422,
            "schema-violation",
        ),
        (
            b'{"schema_id": "text-input-v1", "data": {"content": "long enough text", '
            b'"metadata": {"chapter": 0, "book_id": "b"}}}',
            422,
            "schema-violation",
        ),
        (b'{"data": {"content": "long enough text"}}', 422, "validation-failed"),
        (b"[1, 2, 3]", 422, "validation-failed"),
    ]
    for body, status, code in cases:
        async with api.post("/api/v1/blobs", data=io.BytesIO(body), headers=headers) as response:
            assert response.status == status, (body[:60], await response.text())
            assert response.content_type == PROBLEM
            problem = await response.json()
            assert problem["status"] == status and problem["type"].endswith(code), problem
    async with api.post(
        "/api/v1/blobs", json={"schema_id": "text-input-v1", "data": {"content": "tiny", "metadata": {"chapter": "x"}}}
    ) as response:
        pointers = sorted(e["pointer"] for e in (await response.json())["errors"])
    assert pointers == ["/data/content", "/data/metadata/chapter"]
    assert await _blob_count(api, user_id) == before


async def test_a_user_sees_only_their_own_things(
    api: aiohttp.ClientSession, other_api: aiohttp.ClientSession, user_id: str, other_user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json=draft("private", 1)) as response:
        mine = await response.json()
    blob = f"/api/v1/blobs/{mine['id']}"
    for method, path, body in [
        ("GET", blob, None),
        ("PUT", blob, {"data": {"content": "overwritten by someone else"}}),
        ("DELETE", blob, None),
        ("GET", f"/api/v1/users/{user_id}/books", None),
        ("GET", f"/api/v1/users/{user_id}/blobs", None),
        ("POST", f"/api/v1/users/{user_id}/books", {"title": "Planted"}),
    ]:
        async with other_api.request(method, path, json=body) as response:
            assert response.status == 404, (method, path)
            assert response.content_type == PROBLEM
    async with other_api.get(f"/api/v1/users/{other_user_id}/books") as response:
        assert (await response.json())["books"] == []
    async with api.get(blob) as response:
        assert (await response.json())["version"] == 1


async def test_credentials_are_required_and_checked(stack: Stack, user_id: str) -> None:
    secret = stack.secrets["jwt_secret"]
    bad_tokens = {
        "missing": None,
        "forged": issue_token("f" * 32, user_id),
        "expired": issue_token(secret, user_id, ttl_seconds=1, now=time.time() - 60),
        "no subject": jwt.encode({"exp": time.time() + 60}, secret, algorithm="HS256"),
        "garbage": "not-a-jwt",
        "service token": stack.secrets["service_token"],
        "valid for a century": issue_token(secret, user_id, ttl_seconds=100 * 365 * 24 * 3600),
        "expiry as a string": jwt.encode(
            {"sub": user_id, "exp": str(int(time.time()) + 60)}, secret, algorithm="HS256"
        ),
        "expiry as a boolean": jwt.encode({"sub": user_id, "exp": True}, secret, algorithm="HS256"),
    }
    async with aiohttp.ClientSession(base_url=stack.gateway) as session:
        for name, token in bad_tokens.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.get(f"/api/v1/users/{user_id}/books", headers=headers) as response:
                assert response.status == 401, name
                assert response.content_type == PROBLEM
                challenge = "Bearer" if token is None else 'Bearer error="invalid_token"'
                assert response.headers["WWW-Authenticate"] == challenge, name
        async with session.get("/healthz") as response:
            assert response.status == 200
        async with session.get("/metrics", headers=stack.metrics_headers) as response:
            assert "studio_http_requests_total" in await response.text()


async def test_internal_routes_refuse_user_tokens(stack: Stack, user_id: str) -> None:
    user_token = issue_token(stack.secrets["jwt_secret"], user_id)
    async with aiohttp.ClientSession(base_url=stack.index) as session:
        for headers in ({}, {"Authorization": f"Bearer {user_token}"}, {"Authorization": "Bearer wrong"}):
            async with session.get("/api/v1/schemas", headers=headers) as response:
                assert response.status == 401 and response.content_type == PROBLEM
        ok = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
        async with session.get("/api/v1/schemas", headers=ok) as response:
            assert response.status == 200
