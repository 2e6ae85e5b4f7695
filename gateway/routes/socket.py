"""`GET /ws`: a user's live events, resume after a reconnect, and creating blobs over the socket.

A socket lives no longer than its token: a minute before the token stops being accepted the
client is told (`token.expiring`), may send a fresh token of the same user (`authenticate`), and
is otherwise closed with 4001 when it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, Any

import msgspec
from aiohttp import web

from contracts.live import CLOSE_TOKEN_EXPIRED, CLOSE_TOKEN_REFUSED, EXPIRY_NOTICE_SECONDS
from contracts.models import CreateBlob, CreateUserBlob
from contracts.problems import FieldError
from gateway.auth import SOCKET_PROTOCOL, current_user, token_expiry
from gateway.keys import AUTHENTICATOR, HUB, INDEX, LIVE, PROGRESS, SETTINGS
from gateway.live.masking import StrictWebSocketResponse
from servicekit.app import BODIES
from servicekit.errors import BadRequest, Forbidden, ServiceError, Unauthorized, Unprocessable
from servicekit.middleware import request_id_from
from servicekit.openapi import Query, described
from servicekit.params import int_param
from servicekit.urls import url_path

routes = web.RouteTableDef()
MAX_TOKEN_LENGTH = 16_384


class _Action(msgspec.Struct, kw_only=True):
    action: Annotated[str, msgspec.Meta(max_length=64)]
    data: dict[str, Any] | None = None  # create_blob
    token: Annotated[str, msgspec.Meta(max_length=MAX_TOKEN_LENGTH)] | None = None  # authenticate
    request_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class Lease:
    """How long a socket may stay open: until its token stops being accepted. `token.expiring` a
    minute ahead (at once if less remains), then a close with 4001; a fresh token moves both."""

    def __init__(self, socket: web.WebSocketResponse, expires: float) -> None:
        self.socket = socket
        self.expires = expires
        self.closing = False
        self._timer: asyncio.Task[None] | None = None

    def start(self, expires: float | None = None) -> None:
        if expires is not None:
            self.expires = expires
        self.stop()
        self._timer = asyncio.create_task(self._run(self.expires))

    def stop(self) -> None:
        # A close already under way finishes on its own (bounded), so that its code reaches the client.
        if self._timer is not None and not self.closing:
            self._timer.cancel()

    async def _run(self, expires: float) -> None:
        with contextlib.suppress(Exception):  # a socket already gone has nothing to be told
            await asyncio.sleep(max(0.0, expires - EXPIRY_NOTICE_SECONDS - time.time()))
            await self.socket.send_json({"type": "token.expiring", "expires_at": int(expires)})
            await asyncio.sleep(max(0.0, expires - time.time()))
            self.closing = True
            await close(self.socket, CLOSE_TOKEN_EXPIRED, "token expired: sign in again")


async def close(socket: web.WebSocketResponse, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, message=reason.encode()), 1.0)


def _seed_form(data: dict[str, Any]) -> dict[str, Any]:
    """The seeds' flat draft (`{content, book_id, chapter}`) as a `text-input-v1` blob body."""
    metadata = {k: data[k] for k in ("book_id", "chapter", "style", "title") if k in data}
    body: dict[str, Any] = {"content": data.get("content")}
    if metadata:
        body["metadata"] = metadata
    return {"schema_id": "text-input-v1", "data": body}


async def _create_blob(request: web.Request, data: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """The same checks and answers as `POST /api/v1/blobs`, as one socket message."""
    reader = request.app[BODIES]
    raw = data if "schema_id" in data else _seed_form(data)
    try:
        body = reader.decode(msgspec.json.encode(raw), CreateBlob)
        internal = CreateUserBlob(
            user_id=current_user(request),
            schema_id=body.schema_id,
            data=body.data,
            type=body.type,
            parent_id=body.parent_id,
            conversation_id=body.conversation_id,
        )
        status, payload, _ = await request.app[INDEX].fetch(
            request_id_from(request_id), "POST", url_path("api", "v1", "blobs"), body=internal
        )
    except ServiceError as exc:
        return {
            "type": "blob.create.result",
            "request_id": request_id,
            "status": exc.status,
            "problem": msgspec.to_builtins(exc.problem()),
        }
    answer = msgspec.json.decode(payload)
    key = "blob" if status == 201 else "problem"
    return {"type": "blob.create.result", "request_id": request_id, "status": status, key: answer}


class _Envelope(msgspec.Struct):
    request_id: str | None = None


def _request_id_of(text: str) -> str | None:
    """The request id of a message refused for its content (its JSON parsed and was shallow)."""
    try:
        found = msgspec.json.decode(text, type=_Envelope).request_id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return found if found is not None and len(found) <= 128 else None


def _error(request_id: str | None, exc: ServiceError) -> dict[str, Any]:
    return {
        "type": "error",
        "request_id": request_id,
        "status": exc.status,
        "problem": msgspec.to_builtins(exc.problem()),
    }


def _missing(request_id: str | None, field: str, why: str) -> dict[str, Any]:
    problem = Unprocessable(
        why, errors=[FieldError(pointer=f"/{field}", detail=f"Object missing required field `{field}`")]
    )
    return _error(request_id, problem)


def _offers_no_studio(request: web.Request) -> bool:
    """Subprotocols offered without `studio`. aiohttp would log what was offered (it reads the first
    header line, as here): it may be a token, so such a handshake is refused before it gets there."""
    offered = request.headers.get("Sec-WebSocket-Protocol")
    return offered is not None and SOCKET_PROTOCOL not in [p.strip() for p in offered.split(",")]


@routes.get("/ws")
@described(
    status=101,
    tags=("live",),
    extra={101: "Switching to the WebSocket protocol: the messages are described in /api/v1/asyncapi.json."},
    query=(
        Query(
            "token",
            {"type": "string"},
            "the bearer token, for older clients: prefer `Authorization: Bearer`, "
            "or the subprotocols `studio` and `bearer.<token>` (browsers)",
        ),
        Query("last_event_id", {"type": "integer", "minimum": 0}, "resume after this event's `id`"),
        Query(
            "last_progress_id", {"type": "integer", "minimum": 0}, "resume after this progress message's `progress_id`"
        ),
    ),
)
async def websocket(request: web.Request) -> web.StreamResponse:
    """Authenticated like REST (`Authorization: Bearer`), or by offering the subprotocols `studio`
    and `bearer.<token>` (the answer selects `studio` only); `?last_event_id=N` resumes after the
    event whose `id` was N, and `?last_progress_id=M` after the progress message whose
    `progress_id` was M. Closed with 4001 when the token expires unless a fresh one is sent."""
    if _offers_no_studio(request):
        raise BadRequest(f"offer the `{SOCKET_PROTOCOL}` subprotocol (beside `bearer.<token>`), or none")
    resume = int_param(request, "last_event_id")
    resume_progress = int_param(request, "last_progress_id")
    settings = request.app[SETTINGS]
    user_id = current_user(request)
    socket = StrictWebSocketResponse(
        heartbeat=settings.ws_heartbeat_seconds, max_msg_size=settings.max_body_bytes, protocols=(SOCKET_PROTOCOL,)
    )
    await socket.prepare(request)
    hub, live, progress = request.app[HUB], request.app[LIVE], request.app[PROGRESS]
    reader = request.app[BODIES]
    connection = hub.open(user_id, socket)
    lease = Lease(socket, token_expiry(request))
    try:
        if resume is not None and not await live.replay(connection, resume):
            await socket.send_json({"type": "resync", "detail": "too far behind to replay: reload the views"})
        if resume_progress is not None:
            if not await progress.replay(connection, resume_progress):
                await socket.send_json(
                    {"type": "resync", "detail": "too much progress to replay: read the blobs in flight"}
                )
        hub.start(connection)
        await socket.send_json({"type": "ready", "id": hub.last_seq, "progress_id": hub.last_progress_seq})
        lease.start()

        async def authenticate(action: _Action) -> None:
            """A fresh token of the same user keeps the socket open until it expires in turn."""
            assert action.token is not None
            try:
                fresh_user, expires = await request.app[AUTHENTICATOR].verify(action.token)
                if fresh_user != user_id:
                    raise Forbidden("the token names another user: open a socket of its own")
            except (Unauthorized, Forbidden) as exc:
                await socket.send_json(_error(action.request_id, exc))
                lease.stop()
                await close(socket, CLOSE_TOKEN_REFUSED, "token refused")
                return
            lease.start(expires)
            await socket.send_json(
                {"type": "authenticated", "request_id": action.request_id, "expires_at": int(expires)}
            )

        async def on_action(text: str) -> None:
            # The same limits as a REST body: size (max_msg_size), depth, storable values, shape.
            try:
                action = reader.decode(text, _Action)
            except ServiceError as exc:
                await socket.send_json(_error(_request_id_of(text) if isinstance(exc, Unprocessable) else None, exc))
                return
            if action.action == "authenticate":
                if action.token is None:
                    await socket.send_json(_missing(action.request_id, "token", "authenticate needs a token"))
                    return
                await authenticate(action)
                return
            if action.action != "create_blob":
                await socket.send_json(
                    {
                        "type": "error",
                        "request_id": action.request_id,
                        "status": 422,
                        "detail": f"unknown action {action.action!r}",
                    }
                )
                return
            if action.data is None:
                await socket.send_json(_missing(action.request_id, "data", "create_blob needs data"))
                return
            await socket.send_json(await _create_blob(request, action.data, action.request_id))

        await _read(socket, on_action)
    finally:
        lease.stop()
        hub.close(connection)
        with contextlib.suppress(Exception):
            await socket.close()
    return socket


async def _read(socket: web.WebSocketResponse, on_action: Any) -> None:
    async for message in socket:
        if message.type == web.WSMsgType.TEXT:
            await on_action(message.data)
        elif message.type == web.WSMsgType.BINARY:
            await socket.send_json({"type": "error", "status": 415, "detail": "send actions as text frames of JSON"})
        elif message.type == web.WSMsgType.ERROR:
            break
    await asyncio.sleep(0)
