"""Calls from the gateway that relay a service's answer to the client as it is."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.problems import PROBLEM_CONTENT_TYPE
from gateway.errors import UpstreamUnavailable
from servicekit.client import Answer, ServiceClient, ServiceFailed, ServiceUnavailable
from servicekit.middleware import REQUEST_ID_KEY
from servicekit.urls import UrlPath

# What a service's answer keeps on its way to the client.
RELAYED_HEADERS = ("Content-Type", "Location", "Content-Disposition", "ETag", "X-Compiled-Version", "X-Pitch-Version")


class Upstream:
    """One service behind the gateway; answers are relayed as they are, errors included."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        self.name = client.name

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
        try:
            answer = await self.client.request(method, path, params=params, body=body, request_id=request_id)
        except ServiceFailed as exc:
            answer = relayable_failure(exc)
        except ServiceUnavailable as exc:
            raise UpstreamUnavailable(str(exc)) from exc
        return answer.status, answer.body, {k: answer.headers[k] for k in RELAYED_HEADERS if k in answer.headers}

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


def relayable_failure(exc: ServiceFailed) -> Answer:
    """A service's own problem answer is relayed, a 500 too (a render that failed fails again: a
    503 would tell the client to retry it); a 5xx without a problem is unavailability."""
    answer = exc.answer
    if answer is None or answer.status != 500 or not answer.is_problem:
        raise UpstreamUnavailable(str(exc)) from exc
    return answer


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
