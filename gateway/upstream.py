"""Calls from the gateway to the services behind it, with the service token and the request id."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from contracts.problems import PROBLEM_CONTENT_TYPE
from servicekit.bodies import encode
from servicekit.middleware import REQUEST_ID_HEADER, REQUEST_ID_KEY
from servicekit.urls import UrlPath, upstream_url

from .errors import UpstreamUnavailable

# What a service's answer keeps on its way to the client.
RELAYED_HEADERS = ("Content-Type", "Location", "Content-Disposition", "ETag", "X-Compiled-Version", "X-Pitch-Version")


class Upstream:
    """One service behind the gateway; answers are relayed as they are, errors included."""

    def __init__(self, name: str, session: aiohttp.ClientSession, base_url: str, token: str, timeout: float) -> None:
        self.name = name
        self._session = session
        self._base = base_url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def fetch(
        self,
        request_id: str,
        method: str,
        path: UrlPath,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One call; the status, body and the headers worth relaying. UpstreamUnavailable if none."""
        headers = {**self._headers, REQUEST_ID_HEADER: request_id}
        data = None
        if body is not None:
            data = encode(body)
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, upstream_url(self._base, path), params=params, data=data, headers=headers, timeout=self._timeout
            ) as response:
                payload = await response.read()
                relayed = {k: response.headers[k] for k in RELAYED_HEADERS if k in response.headers}
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamUnavailable(f"{self.name} did not answer: {type(exc).__name__}") from exc
        # A service's own problem answer is relayed, a 500 too (a render that failed fails again: a
        # 503 would tell the client to retry it); a 502/503/504, or a 5xx without a problem, is unavailability.
        if status >= 500 and (status != 500 or "problem" not in relayed.get("Content-Type", "")):
            raise UpstreamUnavailable(f"{self.name} answered {status}")
        if status == 401:
            # The service refused our service token: a deployment fault, not the client's.
            raise UpstreamUnavailable(f"{self.name} refused the gateway's credentials")
        return status, payload, relayed

    async def call(
        self,
        request: web.Request,
        method: str,
        path: UrlPath,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> web.Response:
        """Forward one call and relay the service's status and body to the client."""
        status, payload, relayed = await self.fetch(
            request.get(REQUEST_ID_KEY, ""), method, path, params=params, body=body
        )
        return relayed_response(status, payload, relayed)


def relayed_response(status: int, payload: bytes, relayed: dict[str, str]) -> web.Response:
    """A service's answer as the client gets it."""
    out = web.Response(status=status, body=payload if status != 204 else None)
    for name in RELAYED_HEADERS[1:]:
        if name in relayed:
            out.headers[name] = relayed[name]
    if status != 204 and status < 300 and "json" not in relayed.get("Content-Type", "json"):
        out.headers["Content-Type"] = relayed["Content-Type"]  # a file: its own media type
    elif status != 204:
        problem = "problem" in relayed.get("Content-Type", "")
        out.headers["Content-Type"] = PROBLEM_CONTENT_TYPE if problem else "application/json"
    return out
