"""Live updates over the WebSocket: own events only, blobs created over the socket, resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from servicekit.auth import issue_token
from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.sockets import Socket


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def connect(session: aiohttp.ClientSession, stack: Stack, user_id: str, **params: str) -> Socket:
    token = issue_token(stack.secrets["jwt_secret"], user_id)
    ws = await session.ws_connect(stack.gateway + "/ws", params={"token": token, **params})
    socket = Socket(ws)
    await socket.wait_for(lambda m: m["type"] == "ready")
    return socket


async def test_a_writer_hears_of_their_blob_and_its_expansion_and_nobody_else_does(
    stack: Stack,
    session: aiohttp.ClientSession,
    api: aiohttp.ClientSession,
    other_api: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
) -> None:
    mine, theirs = await connect(session, stack, user_id), await connect(session, stack, other_user_id)
    try:
        async with api.post(
            "/api/v1/blobs", json=draft("live", 1, "The harbour lamps came on one by one.")
        ) as response:
            blob = await response.json()
        (created,) = await mine.wait_for(lambda m: m["type"] == "blob.created" and m["blob_id"] == blob["id"])
        (derived,) = await mine.wait_for(lambda m: m["type"] == "blob.derived" and m["parent_id"] == blob["id"])
        assert (created["book_id"], created["chapter"], created["version"]) == ("live", 1, 1)
        assert derived["processor"] == "text-expansion" and derived["preview"].startswith("The harbour lamps")
        assert derived["id"] > created["id"]
        # The other writer's own later write reaches their socket: anything of mine would have come first.
        async with other_api.post("/api/v1/blobs", json=draft("theirs", 1, "A later line of theirs.")) as response:
            their_blob = await response.json()
        await theirs.wait_for(lambda m: m["type"] == "blob.created" and m["blob_id"] == their_blob["id"])
        leaked = [m for m in theirs.messages if blob["id"] in json.dumps(m) or m.get("book_id") == "live"]
        assert leaked == []
    finally:
        await mine.close()
        await theirs.close()


async def test_blobs_created_over_the_socket_are_checked_like_rest(
    stack: Stack, session: aiohttp.ClientSession, user_id: str
) -> None:
    socket = await connect(session, stack, user_id)
    try:
        await socket.ws.send_json(
            {
                "action": "create_blob",
                "request_id": "r1",
                "data": {"content": "The ship sailed at dawn.", "book_id": "my-novel", "chapter": 1},
            }
        )
        (result,) = await socket.wait_for(lambda m: m["type"] == "blob.create.result" and m["request_id"] == "r1")
        assert result["status"] == 201 and result["blob"]["data"]["metadata"] == {"book_id": "my-novel", "chapter": 1}
        await socket.wait_for(lambda m: m["type"] == "blob.created" and m["blob_id"] == result["blob"]["id"])
        await socket.ws.send_json(
            {
                "action": "create_blob",
                "request_id": "r2",
                "data": {"schema_id": "text-input-v1", "data": {"content": "tiny", "metadata": {"chapter": "x"}}},
            }
        )
        (refused,) = await socket.wait_for(lambda m: m["type"] == "blob.create.result" and m["request_id"] == "r2")
        assert refused["status"] == 422
        assert sorted(e["pointer"] for e in refused["problem"]["errors"]) == ["/data/content", "/data/metadata/chapter"]
        await socket.ws.send_str("not json")
        await socket.wait_for(lambda m: m["type"] == "error")
    finally:
        await socket.close()


async def test_a_client_that_reconnects_gets_what_it_missed(
    stack: Stack, session: aiohttp.ClientSession, api: aiohttp.ClientSession, user_id: str
) -> None:
    socket = await connect(session, stack, user_id)
    async with api.post("/api/v1/blobs", json=draft(content="Before the connection dropped.")) as response:
        first = await response.json()
    (seen,) = await socket.wait_for(lambda m: m["type"] == "blob.created" and m["blob_id"] == first["id"])
    await socket.close()
    watcher = await connect(session, stack, user_id)  # another device, online all along
    missed = []
    for n in range(3):
        async with api.post("/api/v1/blobs", json=draft(content=f"Written while away, number {n}.")) as response:
            missed.append((await response.json())["id"])
    # The events reached the gateway (the device online heard them) before the first one reconnects.
    await watcher.wait_for(lambda m: m["type"] == "blob.created" and m["blob_id"] in missed, count=3)
    await watcher.close()
    resumed = await connect(session, stack, user_id, last_event_id=str(seen["id"]))
    try:
        created = await resumed.wait_for(lambda m: m["type"] == "blob.created", count=3)
        assert [m["blob_id"] for m in created] == missed
        ids = [m["id"] for m in resumed.messages if "id" in m and m["type"] != "ready"]
        assert ids == sorted(ids) and min(ids) > seen["id"]
    finally:
        await resumed.close()


async def test_the_socket_needs_a_valid_token(stack: Stack, session: aiohttp.ClientSession) -> None:
    for params in ({}, {"token": "forged"}, {"token": issue_token("x" * 32, "someone")}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(stack.gateway + "/ws", params=params)
        assert refused.value.status == 401


async def test_a_message_nested_too_deep_gets_an_error_and_the_socket_stays_open(
    stack: Stack, session: aiohttp.ClientSession, user_id: str
) -> None:
    socket = await connect(session, stack, user_id)
    await socket.ws.send_str("[" * 100_000 + "]" * 100_000)
    (error,) = await socket.wait_for(lambda m: m["type"] == "error")
    assert error["status"] == 400 and error["problem"]["type"].endswith("json-too-deep")
    await socket.ws.send_json(
        {
            "action": "create_blob",
            "request_id": "r1",
            "data": {"content": "Still here.", "book_id": "deep", "chapter": 1},
        }
    )
    (result,) = await socket.wait_for(lambda m: m["type"] == "blob.create.result")
    assert result["status"] == 201
    await socket.ws.send_json(
        {
            "action": "create_blob",
            "request_id": "r2\r\nX: y",
            "data": {"content": "NUL\u0000", "book_id": "deep", "chapter": 2},
        }
    )
    (refused,) = await socket.wait_for(lambda m: m.get("request_id") == "r2\r\nX: y")
    assert refused["status"] == 422
    await socket.close()


async def test_an_unmasked_client_frame_is_closed_with_1002(stack: Stack, user_id: str) -> None:
    import base64
    import os

    token = issue_token(stack.secrets["jwt_secret"], user_id)
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.ports["gateway"])
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = b'{"action": "noop", "data": {}}'
    writer.write(bytes([0x81, len(payload)]) + payload)  # FIN + text, mask bit clear
    await writer.drain()
    close_code = None
    while close_code is None:
        first, second = await asyncio.wait_for(reader.readexactly(2), 5)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        body = await reader.readexactly(length)
        if first & 0x0F == 0x8:
            close_code = int.from_bytes(body[:2], "big")
    writer.close()
    assert close_code == 1002
