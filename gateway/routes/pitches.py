"""Pitch notes and the pitch made from them: shown with the notes, exported as a one-pager."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from aiohttp import web

from contracts.models import PITCH_EXPORT_FORMATS, PITCH_SCHEMA, BlobView, DerivedSummary
from gateway.auth import current_user
from gateway.keys import DIRECTORY, INDEX
from gateway.routes.compiled import processor_api
from gateway.routes.relay import relayed_response
from servicekit.errors import NotFound, UnknownFormat
from servicekit.middleware import REQUEST_ID_KEY
from servicekit.openapi import Query, described
from servicekit.urls import url_path

routes = web.RouteTableDef()
BLOB_VIEWS = msgspec.json.Decoder(BlobView)
PITCH_BUDGET_SECONDS = 1.0


class NoPitch(NotFound):
    code, title = "no-pitch", "No pitch has been made from these notes yet"


def _pitch_of(blob: BlobView, producers: list[str]) -> DerivedSummary | None:
    """The current pitch among what was made from the notes."""
    found = [d for d in blob.derived if d.processor in producers and d.status == "ok" and d.depth == 1]
    return max(found, key=lambda d: d.source_version or 0) if found else None


async def current_pitch(request: web.Request, user_id: str, blob: BlobView) -> dict[str, Any] | None:
    """The data of the current pitch made from `blob`, if it is pitch notes and one was made."""
    directory = request.app[DIRECTORY]
    request_id = request.get(REQUEST_ID_KEY, "")
    await directory.refresh(request_id=request_id)
    producers = directory.producing(PITCH_SCHEMA)
    summary = _pitch_of(blob, producers)
    if summary is None:
        return None
    source = await directory.source(summary.processor, request_id=request_id)
    if source is None:
        return None
    result = await source.batch(
        user_id, [summary.id], request_id=request_id, deadline=time.monotonic() + PITCH_BUDGET_SECONDS
    )
    found = result.blobs.get(summary.id)
    return dict(found["data"]) if found else None


@routes.get("/api/v1/blobs/{blob_id}/export")
@described(
    files=(
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/markdown",
    ),
    tags=("pitches",),
    query=(Query("format", {"enum": list(PITCH_EXPORT_FORMATS)}, "md by default"),),
)
async def export_pitch(request: web.Request) -> web.Response:
    """`?format=pdf|docx|md`: the one-pager of the current pitch made from these pitch notes."""
    fmt = request.query.get("format", "md")
    if fmt not in PITCH_EXPORT_FORMATS:
        raise UnknownFormat(f"format must be one of {', '.join(PITCH_EXPORT_FORMATS)}")
    user = current_user(request)
    request_id = request.get(REQUEST_ID_KEY, "")
    status, payload, relayed = await request.app[INDEX].fetch(
        request_id, "GET", url_path("api", "v1", "blobs", request.match_info["blob_id"]), params={"user_id": user}
    )
    if status != 200:
        return relayed_response(status, payload, relayed)
    blob = BLOB_VIEWS.decode(payload)
    directory = request.app[DIRECTORY]
    await directory.refresh(request_id=request_id)
    summary = _pitch_of(blob, directory.producing(PITCH_SCHEMA))
    if summary is None:
        raise NoPitch(f"blob {blob.id} has no current pitch (is it pitch notes, and was it built yet?)")
    path = url_path("blobs", summary.id, "export")
    api = processor_api(request, directory.registrations[summary.processor])
    status, body, relayed = await api.fetch(request_id, "GET", path, params={"format": fmt, "user_id": user})
    return relayed_response(status, body, relayed)
