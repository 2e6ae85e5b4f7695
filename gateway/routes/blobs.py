"""Client routes that the index service answers; bodies are checked here before going upstream."""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web

from contracts.models import (
    BlobView,
    BookList,
    BookState,
    CompileAccepted,
    CompileRequest,
    CreateBlob,
    CreateBook,
    CreateUserBlob,
    InFlightSummary,
    SchemaDocument,
    UpdateBlob,
    UpdateBook,
    UpdateUserBlob,
    UserBlob,
    UserState,
    processing_summary,
)
from gateway.auth import current_user
from gateway.fanout.consistency import stamp
from gateway.keys import CACHE, INDEX, PROGRESS
from gateway.routes.pitches import BLOB_VIEWS, current_pitch
from gateway.routes.relay import relayed_response
from servicekit.app import BODIES
from servicekit.middleware import REQUEST_ID_KEY
from servicekit.openapi import described
from servicekit.urls import url_path

log = logging.getLogger(__name__)
MAX_PROGRESS_LOOKUPS = 100  # items in flight a dashboard request looks up on the progress stream

routes = web.RouteTableDef()


@routes.post("/api/v1/users/{uid}/books")
@described(body=CreateBook, response=BookState, status=201, tags=("books",), extra={409: "A book with this id exists."})
async def create_book(request: web.Request) -> web.Response:
    """Create a book (its id made from the title when not given)."""
    body = await request.app[BODIES].read(request, CreateBook)
    return await request.app[INDEX].call(
        request, "POST", url_path("api", "v1", "users", current_user(request), "books"), body=body
    )


@routes.get("/api/v1/users/{uid}/books")
@described(response=BookList, tags=("books",))
async def list_books(request: web.Request) -> web.Response:
    """The user's books with their chapters in order."""
    return await request.app[INDEX].call(request, "GET", url_path("api", "v1", "users", current_user(request), "books"))


@routes.patch("/api/v1/users/{uid}/books/{book_id}")
@described(body=UpdateBook, response=BookState, tags=("books",))
async def update_book(request: web.Request) -> web.Response:
    """Title, description and metadata (subtitle, author, language, dedication, front and back matter, contact)."""
    body = await request.app[BODIES].read(request, UpdateBook)
    path = url_path("api", "v1", "users", current_user(request), "books", request.match_info["book_id"])
    response = await request.app[INDEX].call(request, "PATCH", path, body=body)
    if response.status == 200:
        # Every gateway drops its views of the user on the `book.updated` event; this one at once.
        request.app[CACHE].invalidate(current_user(request))
    return response


_USER_STATE = msgspec.json.Decoder(UserState)


@routes.get("/api/v1/users/{uid}/state")
@described(response=UserState, tags=("dashboard",))
async def user_state(request: web.Request) -> web.Response:
    """The dashboard's data: totals, blobs by processor, books with chapter counts, items in
    flight (pending, or processing while the progress stream shows the work) and failed ones."""
    user = current_user(request)
    path = url_path("api", "v1", "users", user, "state")
    status, payload, relayed = await request.app[INDEX].fetch(request.get(REQUEST_ID_KEY, ""), "GET", path)
    if status != 200:
        return relayed_response(status, payload, relayed)
    state = _USER_STATE.decode(payload)
    pending = [item for item in state.in_flight if item.state == "pending"][:MAX_PROGRESS_LOOKUPS]
    try:
        working = await request.app[PROGRESS].working(user, [(i.blob_id, i.version, i.processor) for i in pending])
    except Exception as exc:  # the progress stream is a courtesy
        log.warning("progress unreadable for %s: %s", user, exc)
        working = set()
    for item in pending:
        if (item.blob_id, item.processor) in working:
            item.state = "processing"
    return web.Response(body=msgspec.json.encode(state), content_type="application/json")


@routes.get("/api/v1/schemas/{schema_id}")
@described(response=SchemaDocument, tags=("schemas",))
async def get_schema(request: web.Request) -> web.Response:
    """A schema as the registry has it now: forms are made from it (a new optional field shows at once)."""
    path = url_path("api", "v1", "schemas", request.match_info["schema_id"])
    return await request.app[INDEX].call(request, "GET", path)


@routes.post("/api/v1/blobs")
@described(body=CreateBlob, response=UserBlob, status=201, tags=("blobs",))
async def create_blob(request: web.Request) -> web.Response:
    """Store a blob: a chapter draft (`text-input-v1`), pitch notes (`pitch-input-v1`), or any registered schema."""
    body = await request.app[BODIES].read(request, CreateBlob)
    internal = CreateUserBlob(
        user_id=current_user(request),
        schema_id=body.schema_id,
        data=body.data,
        type=body.type,
        parent_id=body.parent_id,
        conversation_id=body.conversation_id,
    )
    return stamp(await request.app[INDEX].call(request, "POST", url_path("api", "v1", "blobs"), body=internal))


@routes.get("/api/v1/blobs/{blob_id}")
@described(response=BlobView, tags=("blobs",))
async def get_blob(request: web.Request) -> web.Response:
    """The blob, what was made from it, and what is being made from it now (with the text so far)."""
    user = current_user(request)
    path = url_path("api", "v1", "blobs", request.match_info["blob_id"])
    status, payload, relayed = await request.app[INDEX].fetch(
        request.get(REQUEST_ID_KEY, ""), "GET", path, params={"user_id": user}
    )
    if status != 200:
        return relayed_response(status, payload, relayed)
    blob = BLOB_VIEWS.decode(payload)
    made = {d.processor for d in blob.derived if d.status == "ok" and d.depth == 1}
    try:
        running = await request.app[PROGRESS].in_flight(user, blob.id, blob.version, made)
    except Exception as exc:  # the progress stream is a courtesy: the blob answers without it
        log.warning("progress of %s unreadable: %s", blob.id, exc)
        running = []
    blob.in_flight = [msgspec.convert(r, InFlightSummary) for r in running]
    for partial in blob.in_flight:
        doing = blob.processing.get(partial.processor)
        if doing is not None and doing.state == "pending":
            doing.state = "processing"  # the progress stream shows the work under way
    blob.processing_state = processing_summary(blob.processing)
    blob.pitch = await current_pitch(request, user, blob)
    return web.Response(body=msgspec.json.encode(blob), content_type="application/json")


@routes.put("/api/v1/blobs/{blob_id}")
@described(
    body=UpdateBlob,
    response=UserBlob,
    tags=("blobs",),
    extra={412: "`version` is not the blob's current version: another device wrote first."},
)
async def update_blob(request: web.Request) -> web.Response:
    """A new version of a blob (`version`: the one the client last read); what was made from it is made again."""
    body = await request.app[BODIES].read(request, UpdateBlob)
    internal = UpdateUserBlob(user_id=current_user(request), data=body.data, version=body.version)
    return stamp(
        await request.app[INDEX].call(
            request, "PUT", url_path("api", "v1", "blobs", request.match_info["blob_id"]), body=internal
        )
    )


@routes.delete("/api/v1/blobs/{blob_id}")
@described(status=204, tags=("blobs",))
async def delete_blob(request: web.Request) -> web.Response:
    """Delete a blob and everything made from it, from every store that holds it."""
    return await request.app[INDEX].call(
        request,
        "DELETE",
        url_path("api", "v1", "blobs", request.match_info["blob_id"]),
        params={"user_id": current_user(request)},
    )


@routes.post("/api/v1/users/{uid}/books/{book_id}/compile")
@described(body=CompileRequest, response=CompileAccepted, status=202, tags=("books",))
async def compile_book(request: web.Request) -> web.Response:
    """202 with a request id; the compiled book is announced by a `book.compiled` event."""
    body = await request.app[BODIES].read(request, CompileRequest) if request.can_read_body else CompileRequest()
    path = url_path("api", "v1", "users", current_user(request), "books", request.match_info["book_id"], "compile")
    return await request.app[INDEX].call(request, "POST", path, body=body)
