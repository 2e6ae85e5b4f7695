"""Client routes that the index service answers; bodies are checked here before going upstream."""

from __future__ import annotations

from aiohttp import web

from contracts.models import CompileRequest, CreateBlob, CreateBook, CreateUserBlob, UpdateBlob, UpdateUserBlob
from servicekit.app import BODIES
from servicekit.urls import url_path

from .auth import current_user
from .keys import INDEX

routes = web.RouteTableDef()


@routes.post("/api/v1/users/{uid}/books")
async def create_book(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, CreateBook)
    return await request.app[INDEX].call(request, "POST", url_path("api", "v1", "users", current_user(request), "books"), body=body)


@routes.get("/api/v1/users/{uid}/books")
async def list_books(request: web.Request) -> web.Response:
    return await request.app[INDEX].call(request, "GET", url_path("api", "v1", "users", current_user(request), "books"))


@routes.post("/api/v1/blobs")
async def create_blob(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, CreateBlob)
    internal = CreateUserBlob(
        user_id=current_user(request), schema_id=body.schema_id, data=body.data, type=body.type,
        parent_id=body.parent_id, conversation_id=body.conversation_id,
    )  # fmt: skip
    return await request.app[INDEX].call(request, "POST", url_path("api", "v1", "blobs"), body=internal)


@routes.get("/api/v1/blobs/{blob_id}")
async def get_blob(request: web.Request) -> web.Response:
    return await request.app[INDEX].call(
        request, "GET", url_path("api", "v1", "blobs", request.match_info["blob_id"]), params={"user_id": current_user(request)}
    )


@routes.put("/api/v1/blobs/{blob_id}")
async def update_blob(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, UpdateBlob)
    internal = UpdateUserBlob(user_id=current_user(request), data=body.data, version=body.version)
    return await request.app[INDEX].call(request, "PUT", url_path("api", "v1", "blobs", request.match_info["blob_id"]), body=internal)


@routes.delete("/api/v1/blobs/{blob_id}")
async def delete_blob(request: web.Request) -> web.Response:
    return await request.app[INDEX].call(
        request, "DELETE", url_path("api", "v1", "blobs", request.match_info["blob_id"]), params={"user_id": current_user(request)}
    )


@routes.post("/api/v1/users/{uid}/books/{book_id}/compile")
async def compile_book(request: web.Request) -> web.Response:
    """202 with a request id; the compiled book is announced by a `book.compiled` event."""
    body = await request.app[BODIES].read(request, CompileRequest) if request.can_read_body else CompileRequest()
    path = url_path("api", "v1", "users", current_user(request), "books", request.match_info["book_id"], "compile")
    return await request.app[INDEX].call(request, "POST", path, body=body)
