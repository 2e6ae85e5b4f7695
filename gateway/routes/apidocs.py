"""What the API is, for tools and people: OpenAPI 3.1 of the routes, AsyncAPI 3 of the socket."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from gateway.routes.asyncapi import socket_document
from servicekit.openapi import document

routes = web.RouteTableDef()
DESCRIPTION = (
    "ReYNa Studio's client API: books, chapter drafts and pitch notes, what the processors of the federation "
    "make from them, aggregated views, exports, and live updates over `/ws`. Every route but these documents "
    "and the health routes takes `Authorization: Bearer <JWT>` (`sub` is the user id); a path's `{uid}` must be "
    "the token's user."
)
_DOCUMENTS = web.AppKey("api_documents", dict)


def install(app: web.Application) -> None:
    """Serve the two documents from `app` (each made on first request, then kept)."""
    app.router.add_routes(routes)
    app[_DOCUMENTS] = {}


def _cached(app: web.Application, name: str, make: Any) -> bytes:
    found: dict[str, bytes] = app[_DOCUMENTS]
    if name not in found:
        found[name] = msgspec.json.encode(make())  # the routes and models do not change while it runs
    return found[name]


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """This API as OpenAPI 3.1, made from the routes and the models they speak."""
    body = _cached(
        request.app,
        "openapi",
        lambda: document(request.app.router.routes(), title="ReYNa Studio", version="1", description=DESCRIPTION),
    )
    return web.Response(body=body, content_type="application/json")


@routes.get("/api/v1/asyncapi.json")
async def asyncapi(request: web.Request) -> web.Response:
    """The WebSocket's messages as AsyncAPI 3."""
    return web.Response(body=_cached(request.app, "asyncapi", socket_document), content_type="application/json")
