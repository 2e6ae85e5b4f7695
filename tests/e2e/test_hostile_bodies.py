"""Bodies and values no store can hold: refused at the edge with a pointer, read back if stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from studio_testing.harness import Stack
from studio_testing.payloads import draft, token_for
from studio_testing.waiting import eventually


@pytest.fixture
async def blobs(stack: Stack) -> AsyncIterator[Any]:
    """The index service's collection, for planting what older versions let in."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    yield client["studio_index"]["blobs"]
    await client.close()


async def problem(response: aiohttp.ClientResponse) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    return dict(await response.json())


@pytest.mark.parametrize(
    ("data", "pointer"),
    [
        ({"content": "A chapter.", "metadata": {"book_id": "b", "chapter": 2147483648}}, "/data/metadata/chapter"),
        ({"content": "A chapter.", "metadata": {"book_id": "b", "chapter": 10001}}, "/data/metadata/chapter"),
        (
            {"content": "A chapter.", "metadata": {"book_id": "b", "chapter": 9223372036854775808}},
            "/data/metadata/chapter",
        ),
        ({"content": "A chapter.", "extra": {"n": -9223372036854775809}}, "/data/extra/n"),
        ({"content": "A chapter.", "extra": {"a\u0000b": 1}}, "/data/extra/a\u0000b"),
        ({"content": "A chapter with a NUL\u0000 in it."}, "/data/content"),
    ],
)
async def test_values_no_store_can_hold_are_422_at_their_field(
    api: aiohttp.ClientSession, user_id: str, data: dict[str, Any], pointer: str
) -> None:
    async with api.post("/api/v1/blobs", json={"schema_id": "text-input-v1", "data": data}) as response:
        assert response.status == 422
        body = await problem(response)
    assert pointer in [e["pointer"] for e in body["errors"]], body
    async with api.get(f"/api/v1/users/{user_id}/blobs") as response:
        assert response.status == 200 and (await response.json())["blobs"] == []


async def test_a_pitch_note_with_a_nul_is_refused(api: aiohttp.ClientSession) -> None:
    notes = {"title": "T", "logline": "A line\u0000 with NUL."}
    async with api.post("/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": notes}) as response:
        assert response.status == 422
        assert (await problem(response))["errors"][0]["pointer"] == "/data/logline"


async def test_stored_big_integers_read_back_and_the_blob_can_be_deleted(
    stack: Stack,
    api: aiohttp.ClientSession,
    other_api: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
    blobs: Any,
) -> None:
    """What an older version let in (a chapter past 2**31) must not make the user's reads fail."""
    async with api.post("/api/v1/blobs", json=draft("big-book", 1)) as response:
        blob_id = (await response.json())["id"]
    await blobs.update_one(
        {"_id": blob_id},
        {
            "$set": {"chapter": 2**31, "data.metadata.chapter": 2**31, "data.extra": 2**40},
            "$unset": {"chapter_key": ""},
        },
    )
    async with other_api.post("/api/v1/blobs", json=draft("their-book", 1)) as response:
        assert response.status == 201
    for _ in range(4):  # more than the circuit's threshold
        async with api.get(f"/api/v1/blobs/{blob_id}") as response:
            assert response.status == 200
            assert (await response.json())["data"]["extra"] == 2**40
        async with api.get(f"/api/v1/users/{user_id}/books") as response:
            assert response.status == 200
        async with api.get(
            f"/api/v1/users/{user_id}/books/big-book", headers={"Cache-Control": "no-cache"}
        ) as response:
            assert response.status == 200
        async with api.get(f"/api/v1/users/{user_id}/blobs") as response:
            assert response.status == 200
    # Nobody else was affected.
    async with other_api.get(
        f"/api/v1/users/{other_user_id}/books/their-book", headers={"Cache-Control": "no-cache"}
    ) as response:
        assert response.status == 200
    async with api.delete(f"/api/v1/blobs/{blob_id}") as response:
        assert response.status == 204


async def test_the_index_repairs_a_stored_chapter_number_past_the_maximum(
    stack: Stack, api: aiohttp.ClientSession, blobs: Any
) -> None:
    from index_service.store import BlobStore

    async with api.post("/api/v1/blobs", json=draft("repair-book", 2)) as response:
        blob_id = (await response.json())["id"]
    await blobs.update_one({"_id": blob_id}, {"$set": {"chapter": 2**40}})
    store = BlobStore.__new__(BlobStore)
    store.blobs = blobs
    assert await store.repair() >= 1
    repaired = await blobs.find_one({"_id": blob_id})
    assert repaired["chapter"] is None and "chapter_key" not in repaired and repaired["book_id"] == "repair-book"


async def test_a_nul_already_stored_in_a_draft_still_compiles(
    stack: Stack, api: aiohttp.ClientSession, user_id: str, blobs: Any
) -> None:
    async with api.post("/api/v1/blobs", json=draft("nul-book", 1, content="Before the edge refused it.")) as response:
        blob_id = (await response.json())["id"]
    await blobs.update_one(
        {"_id": blob_id}, {"$set": {"data.content": "A NUL\u0000 got in before the edge refused it."}}
    )
    async with api.post(f"/api/v1/users/{user_id}/books/nul-book/compile", json={"prefer": "draft"}) as response:
        assert response.status == 202

    async def compiled() -> Any:
        async with api.get(f"/api/v1/users/{user_id}/books") as response:
            return next(b for b in (await response.json())["books"] if b["book_id"] == "nul-book")["compiled_version"]

    assert await eventually(compiled, lambda v: v == 1, what="a compiled version") == 1


async def raw_request(stack: Stack, user_id: str, body: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            stack.gateway + "/api/v1/blobs",
            data=body,
            headers={
                "Authorization": f"Bearer {token_for(stack, user_id)}",
                "Content-Type": "application/json",
                **headers,
            },
            compress=None,
            auto_decompress=False,
        ) as response:
            return response.status, await response.json(content_type=None)


async def test_invalid_utf8_is_400(stack: Stack, user_id: str) -> None:
    status, body = await raw_request(stack, user_id, b'{"schema_id": "text-input-v1", "data": {"content": "\xff\xfe"}}')
    assert status == 400 and body["type"].endswith("malformed-json")


async def test_a_number_beyond_floats_is_400(stack: Stack, user_id: str) -> None:
    status, _ = await raw_request(
        stack, user_id, b'{"schema_id": "text-input-v1", "data": {"content": "x", "n": 1e400}}'
    )
    assert status == 400


async def test_a_body_that_is_not_the_gzip_it_claims_is_400(stack: Stack, user_id: str) -> None:
    status, body = await raw_request(stack, user_id, b"this is not gzip at all", **{"Content-Encoding": "gzip"})
    assert status == 400 and body["type"].endswith("unreadable-body")
    assert "Unhandled exception" not in (stack.data_dir / "logs" / "gateway.log").read_text()


async def test_a_body_that_is_not_json_is_415(stack: Stack, user_id: str) -> None:
    status, body = await raw_request(
        stack, user_id, b"content=hello", **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 415 and body["status"] == 415


async def test_a_trickling_body_is_cut_off_with_408(stack: Stack, user_id: str) -> None:
    """The session's stack reads bodies for at most 2 s (STUDIO_BODY_TIMEOUT_SECONDS)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.ports["gateway"])
    token = token_for(stack, user_id)
    writer.write(
        f"POST /api/v1/blobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
    )
    await writer.drain()

    async def trickle() -> None:
        for _ in range(20):  # two bytes a second: never the whole body in time
            await asyncio.sleep(0.5)
            writer.write(b" ")
            await writer.drain()

    dripping = asyncio.create_task(trickle())
    head = await asyncio.wait_for(reader.read(4096), 10)
    dripping.cancel()
    await asyncio.gather(dripping, return_exceptions=True)
    writer.close()
    assert head.startswith(b"HTTP/1.1 408"), head[:200]


async def test_a_client_that_leaves_mid_body_is_not_an_unhandled_error(stack: Stack, user_id: str) -> None:
    log = stack.data_dir / "logs" / "gateway.log"
    before = log.read_text()
    _, writer = await asyncio.open_connection("127.0.0.1", stack.ports["gateway"])
    writer.write(
        f"POST /api/v1/blobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token_for(stack, user_id)}\r\n"
        'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"schema_id"'.encode()
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await asyncio.sleep(0.5)
    added = log.read_text()[len(before) :]
    assert "unhandled" not in added.lower() and "Traceback" not in added, added


async def test_json_in_a_body_is_checked_wherever_it_nests(api: aiohttp.ClientSession) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    async with api.post("/api/v1/blobs", data=deep, headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
    truncated = json.dumps({"schema_id": "x-v1", "data": {}})[:-1]
    async with api.post("/api/v1/blobs", data=truncated, headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
