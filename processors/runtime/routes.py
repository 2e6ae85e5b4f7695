"""The query API every processor serves: by id, by user since a time, and in batches."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from contracts.problems import FieldError
from contracts.processors import DerivedBatch, DerivedBatchRequest, DerivedPage
from servicekit.app import BODIES
from servicekit.bodies import json_response
from servicekit.errors import Unprocessable
from servicekit.params import int_param, user_param

from .errors import DerivedNotFound
from .keys import PROCESSOR

routes = web.RouteTableDef()
MAX_LIMIT = 500


@routes.get("/blobs/{blob_id}")
async def get_blob(request: web.Request) -> web.Response:
    blob = await request.app[PROCESSOR].store.get(user_param(request), request.match_info["blob_id"])
    if blob is None:
        raise DerivedNotFound(f"no blob {request.match_info['blob_id']}")
    return json_response(blob)


@routes.post("/blobs/batch")
async def batch(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, DerivedBatchRequest)
    found = {b.id: b for b in await request.app[PROCESSOR].store.batch(body.user_id, body.ids)}
    return json_response(
        DerivedBatch(blobs=[found[i] for i in body.ids if i in found], missing=[i for i in body.ids if i not in found])
    )


@routes.get("/users/{uid}/blobs")
async def since(request: web.Request) -> web.Response:
    raw_since = request.query.get("since")
    try:
        moment = datetime.fromisoformat(raw_since.replace("Z", "+00:00")) if raw_since else None
    except ValueError:
        raise Unprocessable(
            "since must be an ISO 8601 time", errors=[FieldError(pointer="/since", detail="not a time")]
        ) from None
    limit = int_param(request, "limit", default=100, minimum=1, maximum=MAX_LIMIT) or 100
    blobs = await request.app[PROCESSOR].store.since(user_param(request), moment, limit + 1)
    more = len(blobs) > limit
    blobs = blobs[:limit]
    return json_response(DerivedPage(blobs=blobs, next_since=blobs[-1].created_at if more and blobs else None))
