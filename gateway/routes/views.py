"""Routes that gather pieces from several stores: a book, a list of blobs."""

from __future__ import annotations

import msgspec
from aiohttp import web

from contracts.ids import ID_PATTERN, is_id
from contracts.problems import FieldError
from contracts.views import BlobListView, BookView
from gateway.auth import current_user
from gateway.fanout.consistency import requested
from gateway.keys import AGGREGATOR, CACHE, GATEWAY_METRICS, LIVE
from servicekit.errors import BadRequest
from servicekit.middleware import REQUEST_ID_KEY
from servicekit.openapi import Query, described
from servicekit.params import bool_param

routes = web.RouteTableDef()
LIST_PARAMS = ("book_id", "type", "limit", "cursor")
MAX_INCLUDE = 32


def _no_cache(request: web.Request) -> bool:
    return "no-cache" in request.headers.get("Cache-Control", "").lower()


def _include(request: web.Request) -> frozenset[str] | None:
    """`?include=text-expansion,summary`: only these processors' pieces (and stores); None: all."""
    raw = request.query.get("include")
    if raw is None:
        return None
    names = [n for n in raw.split(",") if n]
    bad = [n for n in names if not is_id(n)]
    if bad or not names or len(names) > MAX_INCLUDE:
        raise BadRequest(
            "include is a comma-separated list of processor ids",
            errors=[
                FieldError(
                    pointer="/include",
                    detail=f"not a processor id: {bad[0]!r}" if bad else f"1 to {MAX_INCLUDE} processor ids",
                )
            ],
        )
    return frozenset(names)


@routes.get("/api/v1/users/{uid}/books/{book_id}")
@described(
    response=BookView,
    tags=("books",),
    query=(
        Query("include", {"type": "string"}, "comma-separated processor ids: only their pieces (and stores)"),
        Query("expanded", {"type": "boolean"}, "true: each chapter also carries its expansion whole, as `expanded`"),
    ),
)
async def book_view(request: web.Request) -> web.Response:
    """The aggregated book: chapters with drafts and expansions, the compiled book, per-source status.
    With a write's `Studio-Consistency` token sent back, the view shows that write, whichever gateway answers."""
    user_id, book_id = current_user(request), request.match_info["book_id"]
    include = _include(request)
    expanded = bool_param(request, "expanded")

    async def build() -> tuple[bytes, bool]:
        view = await request.app[AGGREGATOR].book_view(
            user_id, book_id, request[REQUEST_ID_KEY], include=include, expanded=expanded
        )
        return msgspec.json.encode(view), view.complete()

    key = (user_id, book_id, ",".join(sorted(include)) if include is not None else "", expanded)
    token = requested(request)
    fresh = _no_cache(request) or (token is not None and not request.app[LIVE].seen.caught_up(user_id, token))
    served = await request.app[CACHE].get(key, build, fresh=fresh)
    request.app[GATEWAY_METRICS].cache.labels(served.source).inc()
    return web.Response(
        body=served.body,
        content_type="application/json",
        headers={"X-Cache": served.source, "Age": str(int(served.age)), "Cache-Control": "no-store"},
    )


@routes.get("/api/v1/users/{uid}/blobs")
@described(
    response=BlobListView,
    tags=("blobs",),
    query=(
        Query("book_id", {"type": "string", "pattern": ID_PATTERN}),
        Query("type", {"type": "string"}),
        Query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
        Query("cursor", {"type": "string"}, "`next_cursor` of the previous page"),
    ),
)
async def blob_list(request: web.Request) -> web.Response:
    """The user's blobs, a page at a time, each with what processors derived from it."""
    params = {name: request.query[name] for name in LIST_PARAMS if request.query.get(name)}
    view = await request.app[AGGREGATOR].blob_list(current_user(request), params, request[REQUEST_ID_KEY])
    return web.Response(body=msgspec.json.encode(view), content_type="application/json")
