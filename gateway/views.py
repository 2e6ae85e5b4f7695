"""Routes that gather pieces from several stores: a book, a list of blobs."""

from __future__ import annotations

import msgspec
from aiohttp import web

from servicekit.middleware import REQUEST_ID_KEY

from .auth import current_user
from .keys import AGGREGATOR, CACHE, GATEWAY_METRICS

routes = web.RouteTableDef()
LIST_PARAMS = ("book_id", "type", "limit", "cursor")


def _no_cache(request: web.Request) -> bool:
    return "no-cache" in request.headers.get("Cache-Control", "").lower()


@routes.get("/api/v1/users/{uid}/books/{book_id}")
async def book_view(request: web.Request) -> web.Response:
    """The aggregated book: chapters with drafts and expansions, the compiled book, per-source status."""
    user_id, book_id = current_user(request), request.match_info["book_id"]

    async def build() -> tuple[bytes, bool]:
        view = await request.app[AGGREGATOR].book_view(user_id, book_id, request[REQUEST_ID_KEY])
        return msgspec.json.encode(view), view.complete()

    served = await request.app[CACHE].get((user_id, book_id), build, bypass=_no_cache(request))
    request.app[GATEWAY_METRICS].cache.labels(served.source).inc()
    return web.Response(
        body=served.body,
        content_type="application/json",
        headers={"X-Cache": served.source, "Age": str(int(served.age)), "Cache-Control": "private, no-cache"},
    )


@routes.get("/api/v1/users/{uid}/blobs")
async def blob_list(request: web.Request) -> web.Response:
    """The user's blobs, a page at a time, each with what processors derived from it."""
    params = {name: request.query[name] for name in LIST_PARAMS if request.query.get(name)}
    view = await request.app[AGGREGATOR].blob_list(current_user(request), params, request[REQUEST_ID_KEY])
    return web.Response(body=msgspec.json.encode(view), content_type="application/json")
