"""Compiled books, from the processor that compiles them: exports as files, versions, diffs."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from contracts.models import BOOK_EXPORT_FORMATS, COMPILED_BOOK_SCHEMA, ProcessorRegistration, VersionDiff, VersionList
from servicekit.errors import UnknownFormat
from servicekit.middleware import REQUEST_ID_HEADER, REQUEST_ID_KEY
from servicekit.openapi import Query, described
from servicekit.params import int_param, version_param
from servicekit.urls import upstream_url, url_path

from .auth import current_user
from .errors import UpstreamUnavailable
from .keys import DIRECTORY, SESSION, SETTINGS
from .upstream import Upstream, relayed_response

routes = web.RouteTableDef()
RELAYED = ("Content-Type", "Content-Disposition", "ETag", "Cache-Control", "X-Compiled-Version", "Content-Length")
CHUNK = 256 * 1024  # a few large writes: a 2 MiB PDF in eight
EXPORT_READ_SECONDS = 120


async def _compiler(request: web.Request) -> ProcessorRegistration:
    """The registration of the processor that makes compiled books."""
    directory = request.app[DIRECTORY]
    await directory.refresh(request_id=request.get(REQUEST_ID_KEY, ""))
    compilers = [p for p in directory.producing(COMPILED_BOOK_SCHEMA) if p not in directory.retired]
    if not compilers:
        raise UpstreamUnavailable("no book compiler is registered")
    return directory.registrations[compilers[0]]


def _headers(request: web.Request) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {request.app[SETTINGS].service_token}",
        REQUEST_ID_HEADER: request.get(REQUEST_ID_KEY, ""),
    }


def processor_api(request: web.Request, registration: ProcessorRegistration) -> Upstream:
    """A processor's own query API, called as the gateway calls every service."""
    settings = request.app[SETTINGS]
    return Upstream(
        registration.id,
        request.app[SESSION],
        registration.base_url,
        settings.service_token,
        settings.upstream_timeout_seconds * 6,
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
    settings = request.app[SETTINGS]
    headers = _headers(request)
    if "If-None-Match" in request.headers:
        headers["If-None-Match"] = request.headers["If-None-Match"]
    # A render may wait its turn and then take the renderer's whole limit (see processors/sandbox.py).
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=settings.upstream_timeout_seconds, sock_read=EXPORT_READ_SECONDS
    )
    try:
        async with request.app[SESSION].get(
            upstream_url(registration.base_url, path), params=params, headers=headers, timeout=timeout
        ) as upstream:
            if upstream.status in (502, 503, 504):
                raise UpstreamUnavailable(f"{registration.id} answered {upstream.status}")
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
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamUnavailable(f"{registration.id} did not answer: {type(exc).__name__}") from exc
