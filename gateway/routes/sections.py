"""A section of an expansion kept, discarded or written again: the writer's say over each suggestion.

Keep is the gateway's: the section's text takes the place of the draft text it was written from,
as the draft's next version (conditional on the version the expansion was made from), with the
span it fills recorded as the model's. Discard and regenerate belong to the processor that holds
the expansion: the gateway checks the expansion is the user's and asks it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from contracts.data import Span
from contracts.models import BlobIndexEntry, UpdateUserBlob, UserBlob
from contracts.processors import RegenerateSection, RevisedSection, ReviseSection
from gateway.auth import current_user
from gateway.errors import UpstreamProblem, UpstreamUnavailable
from gateway.fanout.consistency import stamp
from gateway.keeping import DraftMovedOn, keep
from gateway.keys import DIRECTORY, INDEX
from gateway.routes.compiled import processor_api
from gateway.routes.relay import relayed_response
from servicekit.app import BODIES
from servicekit.errors import NotFound
from servicekit.middleware import REQUEST_ID_KEY
from servicekit.openapi import described
from servicekit.urls import url_path

routes = web.RouteTableDef()
SECTION = "/api/v1/blobs/{blob_id}/sections/{section_id}"


class SectionNotFound(NotFound):
    code, title = "not-found", "Not found"


async def _entry(request: web.Request, user_id: str) -> BlobIndexEntry:
    """The index entry of the expansion named in the path: the user's, and made by a processor."""
    params = {"user_id": user_id, "id": request.match_info["blob_id"], "limit": "1"}
    status, payload, _ = await request.app[INDEX].fetch(
        request.get(REQUEST_ID_KEY, ""), "GET", url_path("api", "v1", "blob-index"), params=params
    )
    if status != 200:
        raise UpstreamProblem(status, payload)
    found = msgspec.json.decode(payload, type=dict[str, list[BlobIndexEntry]])["entries"]
    if not found or found[0].processor_id == "user" or found[0].parent_id is None:
        raise SectionNotFound(f"no expansion {request.match_info['blob_id']}")
    return found[0]


async def _holder(request: web.Request, entry: BlobIndexEntry) -> Any:
    directory = request.app[DIRECTORY]
    await directory.refresh(request_id=request.get(REQUEST_ID_KEY, ""))
    registration = directory.registrations.get(entry.processor_id)
    if registration is None:
        raise UpstreamUnavailable(f"{entry.processor_id} is not registered")
    return processor_api(request, registration)


@routes.post(SECTION + "/keep")
@described(
    response=UserBlob,
    tags=("writing",),
    extra={409: "The draft changed since the section was written, or no longer holds its text."},
)
async def keep_section(request: web.Request) -> web.Response:
    """Keep a section: its text replaces the draft text it was written from, as the draft's next version."""
    user = current_user(request)
    entry = await _entry(request, user)
    holder = await _holder(request, entry)
    request_id = request.get(REQUEST_ID_KEY, "")
    status, payload, _ = await holder.fetch(request_id, "GET", url_path("blobs", entry.id), params={"user_id": user})
    if status != 200:
        raise UpstreamProblem(status, payload)
    expansion = msgspec.json.decode(payload)
    section = _section(expansion.get("data") or {}, request.match_info["section_id"])
    status, payload, _ = await request.app[INDEX].fetch(
        request_id, "GET", url_path("api", "v1", "blobs", entry.parent_id or ""), params={"user_id": user}
    )
    if status != 200:
        raise UpstreamProblem(status, payload)
    draft = msgspec.json.decode(payload)
    written_from = expansion.get("source_version")
    if draft["version"] != written_from:
        raise DraftMovedOn(
            f"the section was written from version {written_from} of the draft; it is at {draft['version']}"
        )
    paragraphs = (section.get("source") or {}).get("paragraphs") or [0, 0]
    kept = keep(
        str(draft["data"].get("content") or ""),
        str(section.get("original") or ""),
        str(section.get("text") or ""),
        (int(paragraphs[0]), int(paragraphs[-1])),
    )
    span = Span(
        start=kept.start,
        end=kept.end,
        expansion_id=entry.id,
        section_id=str(section["id"]),
        model=str(section.get("model") or "") or None,
        instruction=section.get("instruction") or None,
    )
    body = UpdateUserBlob(
        user_id=user, data={**draft["data"], "content": kept.content}, version=draft["version"], kept=[span]
    )
    path = url_path("api", "v1", "blobs", entry.parent_id or "")
    return stamp(await request.app[INDEX].call(request, "PUT", path, body=body))


@routes.post(SECTION + "/discard")
@described(response=RevisedSection, tags=("writing",))
async def discard_section(request: web.Request) -> web.Response:
    """Discard a section: the expansion keeps the draft's own text in its place."""
    return await _ask_holder(request, "discard", ReviseSection(user_id=current_user(request)))


@routes.post(SECTION + "/regenerate")
@described(body=RegenerateSection, response=RevisedSection, status=202, tags=("writing",))
async def regenerate_section(request: web.Request) -> web.Response:
    """Write one section again, with an instruction if given; its text streams as `blob.progress`."""
    body = await request.app[BODIES].read(request, RegenerateSection) if request.can_read_body else RegenerateSection()
    return await _ask_holder(
        request, "regenerate", ReviseSection(user_id=current_user(request), instruction=body.instruction)
    )


async def _ask_holder(request: web.Request, action: str, body: ReviseSection) -> web.Response:
    entry = await _entry(request, body.user_id)
    holder = await _holder(request, entry)
    path = url_path("blobs", entry.id, "sections", request.match_info["section_id"], action)
    status, payload, relayed = await holder.fetch(request.get(REQUEST_ID_KEY, ""), "POST", path, body=body)
    return relayed_response(status, payload, relayed)


def _section(data: dict[str, Any], section_id: str) -> dict[str, Any]:
    for section in data.get("sections") or []:
        if isinstance(section, dict) and section.get("id") == section_id:
            return section
    raise SectionNotFound(f"no section {section_id}")
