"""The one way to build a URL to another service: from encoded path segments, never by formatting.

Every segment is percent-encoded whole (`/`, `?`, `#`, `%` included), so no value can add a path
segment, a query or a fragment; `.`, `..` and empty segments are refused outright. The result is
handed to the HTTP client as an already-encoded URL, so nothing normalises `..` afterwards.
"""

from __future__ import annotations

from typing import NewType
from urllib.parse import quote

from yarl import URL

UrlPath = NewType("UrlPath", str)


def url_path(*segments: str | int) -> UrlPath:
    """`url_path("api", "v1", "blobs", blob_id)` -> `/api/v1/blobs/<encoded blob_id>`."""
    encoded = []
    for segment in segments:
        text = str(segment)
        if text in ("", ".", ".."):
            raise ValueError(f"{text!r} cannot be a path segment")
        encoded.append(quote(text, safe=""))
    return UrlPath("/" + "/".join(encoded))


def upstream_url(base: str, path: UrlPath) -> URL:
    """`base` (a configured service URL) joined with a path made by `url_path`, taken as encoded."""
    return URL(base.rstrip("/") + path, encoded=True)
