"""Compiled books, from the processor that compiles them: exports as files, versions, diffs."""

from __future__ import annotations

from aiohttp import web

from contracts.models import BOOK_EXPORT_FORMATS, COMPILED_BOOK_SCHEMA, ProcessorRegistration, VersionDiff, VersionList
from gateway.auth import current_user
from gateway.errors import UpstreamUnavailable
from gateway.keys import DIRECTORY, SESSION, SETTINGS
from gateway.routes.relay import Upstream, relayable_failure, relayed_response
from servicekit.client import ServiceClient, ServiceFailed, ServiceUnavailable
from servicekit.errors import UnknownFormat
from servicekit.middleware import REQUEST_ID_KEY
from servicekit.openapi import Query, described
from servicekit.params import int_param, version_param
from servicekit.urls import url_path

routes = web.RouteTableDef()
RELAYED = ("Content-Type", "Content-Disposition", "ETag", "Cache-Control", "X-Compiled-Version", "Content-Length")
CHUNK = 256 * 1024  # a few large writes: a 2 MiB PDF in eight
EXPORT_READ_SECONDS = 120
RENDER_TIMEOUT_FACTOR = 6  # a processor's render or diff, against a store's read


async def _compiler(request: web.Request) -> ProcessorRegistration:
    """The registration of the processor that makes compiled books."""
    directory = request.app[DIRECTORY]
    await directory.refresh(request_id=request.get(REQUEST_ID_KEY, ""))
    compilers = [p for p in directory.producing(COMPILED_BOOK_SCHEMA) if p not in directory.retired]
    if not compilers:
        raise UpstreamUnavailable("no book compiler is registered")
    return directory.registrations[compilers[0]]


def processor_api(request: web.Request, registration: ProcessorRegistration) -> Upstream:
    """A processor's own query API, called as the gateway calls every service, with the time a
    render or a diff of versions may take."""
    settings = request.app[SETTINGS]
    return Upstream(
        ServiceClient(
            request.app[SESSION],
            name=registration.id,
            base_url=registration.base_url,
            token=settings.service_token,
            timeout=settings.upstream_timeout_seconds * RENDER_TIMEOUT_FACTOR,
        )
    )


async def _relay_json(request: web.Request, *segments: str) -> web.Response:
    """The compiler's answer to a GET under the user's book, relayed."""
    path = url_path("users", current_user(request), "books", request.match_info["book_id"], *segments)
    status, body, relayed = await processor_api(request, await _compiler(request)).fetch(
        request.get(REQUEST_ID_KEY, ""), "GET", path
    )
    return relayed_response(status, body, relayed)


@routes.get("/api/v1/users/{uid}/books/{book_id}/versions")
@described(response=VersionList, tags=("books",))
async def versions(request: web.Request) -> web.Response:
    """Compiled versions, oldest first: date, words, chapters, which chapters used the expansion and which the draft."""
    return await _relay_json(request, "versions")


@routes.get("/api/v1/users/{uid}/books/{book_id}/versions/{a}/diff/{b}")
@described(response=VersionDiff, tags=("books",))
async def diff(request: web.Request) -> web.Response:
    """Which chapters changed from version `a` to `b`, and the words added and removed."""
    return await _relay_json(
        request, "versions", str(version_param(request, "a")), "diff", str(version_param(request, "b"))
    )


@routes.get("/api/v1/users/{uid}/books/{book_id}/export")
@described(
    files=(
        "application/epub+zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/pdf",
        "text/markdown",
        "text/plain",
    ),
    tags=("books",),
    extra={304: "`If-None-Match` names the file's current ETag."},
    query=(
        Query("format", {"enum": list(BOOK_EXPORT_FORMATS)}, "md by default"),
        Query("version", {"type": "integer", "minimum": 1}, "the newest by default"),
    ),
)
async def export_book(request: web.Request) -> web.StreamResponse:
    """`?format=epub|docx|pdf|md|txt&version=N` (the newest version by default); `If-None-Match` -> 304."""
    fmt = request.query.get("format", "md")
    if fmt not in BOOK_EXPORT_FORMATS:
        raise UnknownFormat(f"format must be one of {', '.join(BOOK_EXPORT_FORMATS)}")
    version = int_param(request, "version", minimum=1, maximum=2**31 - 1)
    registration = await _compiler(request)
    path = url_path("users", current_user(request), "books", request.match_info["book_id"], "export")
    params = {"format": fmt, **({"version": str(version)} if version is not None else {})}
    headers = {"If-None-Match": request.headers["If-None-Match"]} if "If-None-Match" in request.headers else None
    client = processor_api(request, registration).client
    # A render may wait its turn and then take the renderer's whole limit (see processors/rendering/sandbox.py).
    try:
        async with client.stream(
            "GET", path, params=params, headers=headers, read_timeout=EXPORT_READ_SECONDS
        ) as upstream:
            if upstream.status not in (200, 304):
                body = await upstream.read()
                return relayed_response(
                    upstream.status, body, {"Content-Type": upstream.headers.get("Content-Type", "")}
                )
            response = web.StreamResponse(
                status=upstream.status, headers={k: upstream.headers[k] for k in RELAYED if k in upstream.headers}
            )
            await response.prepare(request)
            if upstream.status == 200:
                async for chunk in upstream.content.iter_chunked(CHUNK):
                    await response.write(chunk)
            await response.write_eof()
            return response
    except ServiceFailed as exc:
        answer = relayable_failure(exc)
        return relayed_response(answer.status, answer.body, {"Content-Type": answer.headers.get("Content-Type", "")})
    except ServiceUnavailable as exc:
        raise UpstreamUnavailable(str(exc)) from exc
