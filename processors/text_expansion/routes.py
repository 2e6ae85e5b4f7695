"""Text expansion's own routes beyond the query API: a section discarded, or written again."""

from __future__ import annotations

from aiohttp import web

from contracts.processors import ReviseSection
from processors.runtime.keys import INDEX, NATS
from servicekit.app import BODIES
from servicekit.bodies import json_response

from .revise import Revisions


def section_routes(revisions: Revisions) -> list[web.RouteDef]:
    """`POST /blobs/{id}/sections/{section_id}/discard` and `.../regenerate` (`ReviseSection`)."""

    async def discard(request: web.Request) -> web.Response:
        body = await request.app[BODIES].read(request, ReviseSection)
        revised = await revisions.discard(
            request.app[INDEX], body.user_id, request.match_info["blob_id"], request.match_info["section_id"]
        )
        return json_response(revised)

    async def regenerate(request: web.Request) -> web.Response:
        body = await request.app[BODIES].read(request, ReviseSection)
        revised = await revisions.regenerate(
            request.app[INDEX],
            request.app[NATS].jetstream(),
            body.user_id,
            request.match_info["blob_id"],
            request.match_info["section_id"],
            body.instruction,
        )
        return json_response(revised, status=202)

    return [
        web.post("/blobs/{blob_id}/sections/{section_id}/discard", discard),
        web.post("/blobs/{blob_id}/sections/{section_id}/regenerate", regenerate),
    ]
