"""`GET /ws`: a user's live events, resume after a reconnect, and creating blobs over the socket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

import msgspec
from aiohttp import web

from contracts.models import CreateBlob, CreateUserBlob
from servicekit.app import BODIES
from servicekit.errors import ServiceError, Unprocessable
from servicekit.middleware import request_id_from
from servicekit.openapi import Query, described
from servicekit.params import int_param
from servicekit.urls import url_path

from .auth import current_user
from .keys import HUB, INDEX, LIVE, PROGRESS, SETTINGS
from .masking import StrictWebSocketResponse

routes = web.RouteTableDef()


class _Action(msgspec.Struct, kw_only=True):
    action: Annotated[str, msgspec.Meta(max_length=64)]
    data: dict[str, Any]
    request_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None


def _seed_form(data: dict[str, Any]) -> dict[str, Any]:
    """The seeds' flat draft (`{content, book_id, chapter}`) as a `text-input-v1` blob body."""
    metadata = {k: data[k] for k in ("book_id", "chapter", "style", "title") if k in data}
    body: dict[str, Any] = {"content": data.get("content")}
    if metadata:
        body["metadata"] = metadata
    return {"schema_id": "text-input-v1", "data": body}


async def _create_blob(request: web.Request, action: _Action) -> dict[str, Any]:
    """The same checks and answers as `POST /api/v1/blobs`, as one socket message."""
    reader = request.app[BODIES]
    raw = action.data if "schema_id" in action.data else _seed_form(action.data)
    try:
        body = reader.decode(msgspec.json.encode(raw), CreateBlob)
        internal = CreateUserBlob(
            user_id=current_user(request), schema_id=body.schema_id, data=body.data, type=body.type,
            parent_id=body.parent_id, conversation_id=body.conversation_id,
        )  # fmt: skip
        status, payload, _ = await request.app[INDEX].fetch(request_id_from(action.request_id), "POST", url_path("api", "v1", "blobs"), body=internal)
    except ServiceError as exc:
        return {"type": "blob.create.result", "request_id": action.request_id, "status": exc.status, "problem": msgspec.to_builtins(exc.problem())}
    answer = msgspec.json.decode(payload)
    key = "blob" if status == 201 else "problem"
    return {"type": "blob.create.result", "request_id": action.request_id, "status": status, key: answer}


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
    return {"type": "error", "request_id": request_id, "status": exc.status, "problem": msgspec.to_builtins(exc.problem())}


@routes.get("/ws")
@described(
    status=101, tags=("live",), extra={101: "Switching to the WebSocket protocol: the messages are described in /api/v1/asyncapi.json."},
    query=(
        Query("token", {"type": "string"}, "the bearer token, for clients that cannot set headers on the handshake"),
        Query("last_event_id", {"type": "integer", "minimum": 0}, "resume after this event's `id`"),
        Query("last_progress_id", {"type": "integer", "minimum": 0}, "resume after this progress message's `progress_id`"),
    ),
)
async def websocket(request: web.Request) -> web.StreamResponse:
    """Authenticated like REST; `?last_event_id=N` resumes after the event whose `id` was N, and
    `?last_progress_id=M` after the progress message whose `progress_id` was M."""
    resume = int_param(request, "last_event_id")
    resume_progress = int_param(request, "last_progress_id")
    settings = request.app[SETTINGS]
    socket = StrictWebSocketResponse(heartbeat=settings.ws_heartbeat_seconds, max_msg_size=settings.max_body_bytes)
    await socket.prepare(request)
    hub, live, progress = request.app[HUB], request.app[LIVE], request.app[PROGRESS]
    reader = request.app[BODIES]
    connection = hub.open(current_user(request), socket)
    try:
        if resume is not None and not await live.replay(connection, resume):
            await socket.send_json({"type": "resync", "detail": "too far behind to replay: reload the views"})
        if resume_progress is not None:
            if not await progress.replay(connection, resume_progress):
                await socket.send_json({"type": "resync", "detail": "too much progress to replay: read the blobs in flight"})
        hub.start(connection)
        await socket.send_json({"type": "ready", "id": hub.last_seq, "progress_id": hub.last_progress_seq})

        async def on_action(text: str) -> None:
            # The same limits as a REST body: size (max_msg_size), depth, storable values, shape.
            try:
                action = reader.decode(text, _Action)
            except ServiceError as exc:
                await socket.send_json(_error(_request_id_of(text) if isinstance(exc, Unprocessable) else None, exc))
                return
            if action.action != "create_blob":
                await socket.send_json({"type": "error", "request_id": action.request_id, "status": 422, "detail": f"unknown action {action.action!r}"})
                return
            await socket.send_json(await _create_blob(request, action))

        await _read(socket, on_action)
    finally:
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
