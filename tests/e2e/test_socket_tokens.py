"""A socket lives no longer than its token: told ahead, renewed over the socket by a fresh token of
the same user, closed with 4001 at expiry; a bad or foreign token closes it with 4003. The token
travels in a header or a subprotocol, never in a URL that reaches a log."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest

from contracts.live import CLOSE_TOKEN_EXPIRED, CLOSE_TOKEN_REFUSED
from servicekit.auth import issue_token
from studio_testing.documents import MESSAGE_OF, checker
from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.sockets import Socket
from studio_testing.waiting import eventually


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def document(stack: Stack) -> dict[str, Any]:
    async with aiohttp.ClientSession() as client, client.get(stack.gateway + "/api/v1/asyncapi.json") as response:
        return dict(await response.json())


async def open_socket(session: aiohttp.ClientSession, stack: Stack, token: str) -> Socket:
    socket = Socket(await session.ws_connect(stack.gateway + "/ws", headers={"Authorization": f"Bearer {token}"}))
    await socket.first("ready")
    return socket


async def test_a_socket_is_told_before_its_token_expires_and_closed_when_it_does(
    stack: Stack, session: aiohttp.ClientSession, document: dict[str, Any], user_id: str
) -> None:
    token = issue_token(stack.secrets["jwt_secret"], user_id, ttl_seconds=3)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    socket = await open_socket(session, stack, token)
    try:
        notice = await socket.first("token.expiring")  # less than a minute left: at once
        assert notice == {"type": "token.expiring", "expires_at": expires}
        checker(document, MESSAGE_OF["token.expiring"]).validate(notice)
        assert await socket.close_code(timeout=10) == CLOSE_TOKEN_EXPIRED
        assert time.time() >= expires, "closed before its token expired"
        # REST refuses the same token from the same moment: the socket lived no longer than it.
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(f"{stack.gateway}/api/v1/users/{user_id}/books", headers=headers) as response:
            assert response.status == 401
    finally:
        await socket.close()


async def test_a_fresh_token_of_the_same_user_keeps_the_socket_open(
    stack: Stack, session: aiohttp.ClientSession, api: aiohttp.ClientSession, document: dict[str, Any], user_id: str
) -> None:
    secret = stack.secrets["jwt_secret"]
    first = issue_token(secret, user_id, ttl_seconds=3)
    first_expiry = jwt.decode(first, options={"verify_signature": False})["exp"]
    socket = await open_socket(session, stack, first)
    try:
        await socket.first("token.expiring")
        fresh = issue_token(secret, user_id, ttl_seconds=600)
        await socket.ws.send_json({"action": "authenticate", "token": fresh, "request_id": "renew-1"})
        renewed = await socket.first("authenticated")
        assert renewed == {
            "type": "authenticated",
            "request_id": "renew-1",
            "expires_at": jwt.decode(fresh, options={"verify_signature": False})["exp"],
        }
        checker(document, MESSAGE_OF["authenticated"]).validate(renewed)
        # Past the first token's expiry the socket still hears the user's events.
        await asyncio.sleep(max(0.0, first_expiry + 1 - time.time()))  # the moment itself is what is waited for
        async with api.post(
            "/api/v1/blobs", json=draft("renewed", 1, "Written after the first token expired.")
        ) as response:
            blob = await response.json()
        created = await socket.first("blob.created")
        assert created["blob_id"] == blob["id"] and not socket.closed.done()
    finally:
        await socket.close()


@pytest.mark.parametrize(
    ("kind", "status"), [("another user's", 403), ("forged", 401), ("expired", 401), ("unsigned", 401)]
)
async def test_a_bad_token_or_another_users_closes_the_socket_with_4003(
    stack: Stack,
    session: aiohttp.ClientSession,
    document: dict[str, Any],
    user_id: str,
    other_user_id: str,
    kind: str,
    status: int,
) -> None:
    secret = stack.secrets["jwt_secret"]
    sent = {
        "another user's": issue_token(secret, other_user_id),
        "forged": issue_token("f" * 32, user_id),
        "expired": issue_token(secret, user_id, ttl_seconds=60, now=time.time() - 61),
        "unsigned": jwt.encode({"sub": user_id, "exp": int(time.time()) + 60}, None, algorithm="none"),
    }[kind]
    socket = await open_socket(session, stack, issue_token(secret, user_id))
    try:
        await socket.ws.send_json(
            {"action": "authenticate", "request_id": "r1"}
        )  # no token: an error, the socket stays
        missing = await socket.first("error")
        assert missing["status"] == 422 and missing["problem"]["errors"][0]["pointer"] == "/token"
        socket.messages.clear()
        await socket.ws.send_json({"action": "authenticate", "token": sent, "request_id": "r2"})
        error = await socket.first("error")
        assert (error["status"], error["request_id"]) == (status, "r2")
        checker(document, MESSAGE_OF["error"]).validate(error)
        assert await socket.close_code() == CLOSE_TOKEN_REFUSED
    finally:
        await socket.close()


async def handshake(stack: Stack, headers: dict[str, str], target: str = "/ws") -> bytes:
    """The raw answer head to a WebSocket handshake with `headers` (the connection is then dropped)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.ports["gateway"])
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n".encode()
    )
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    finally:
        writer.close()


async def test_the_socket_takes_its_token_as_a_subprotocol_and_answers_with_studio_alone(
    stack: Stack, session: aiohttp.ClientSession, api: aiohttp.ClientSession, user_id: str
) -> None:
    token = issue_token(stack.secrets["jwt_secret"], user_id)
    head = await handshake(stack, {"Sec-WebSocket-Protocol": f"studio, bearer.{token}"})
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"\r\nSec-WebSocket-Protocol: studio\r\n" in head and token.encode() not in head
    # As a browser does it: the events flow.
    ws = await session.ws_connect(stack.gateway + "/ws", protocols=("studio", f"bearer.{token}"))
    socket = Socket(ws)
    try:
        assert ws.protocol == "studio"
        await socket.first("ready")
        async with api.post(
            "/api/v1/blobs", json=draft("by-protocol", 1, "Heard over a socket opened by subprotocol.")
        ) as response:
            blob = await response.json()
        created = await socket.first("blob.created")
        assert created["blob_id"] == blob["id"]
    finally:
        await socket.close()
    # A token offered without `studio` is refused before the handshake (and before any log sees it).
    head = await handshake(stack, {"Sec-WebSocket-Protocol": f"bearer.{token}"})
    assert head.startswith(b"HTTP/1.1 400"), head
    head = await handshake(stack, {"Sec-WebSocket-Protocol": f"studio, bearer.{issue_token('f' * 32, user_id)}"})
    assert head.startswith(b"HTTP/1.1 401") and b'WWW-Authenticate: Bearer error="invalid_token"' in head, head


async def test_a_token_in_the_url_never_reaches_a_log(
    stack: Stack, session: aiohttp.ClientSession, user_id: str
) -> None:
    token = issue_token(stack.secrets["jwt_secret"], user_id)
    marker = os.urandom(6).hex()  # an unknown parameter, to find this socket's line
    async with session.ws_connect(stack.gateway + "/ws", params={"token": token, "probe": marker}) as ws:
        assert (await ws.receive_json())["type"] == "ready"
    log = stack.data_dir / "logs" / "gateway.log"

    async def logged() -> str:
        return log.read_text(errors="replace")

    await eventually(
        logged,
        lambda text: f'"GET /ws?token=[redacted]&probe={marker} HTTP/1.1" 101' in text,
        what="the socket's access log line",
    )
    assert not any(token in path.read_text(errors="replace") for path in stack.log_files())
