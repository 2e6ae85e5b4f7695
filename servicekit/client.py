"""The one client for calls between services: the service token, the request id, a deadline, and
answers sorted into "here it is", "that service is away" and "that service failed this request".

Trace context travels on the session (`servicekit.tracing.client_tracing`); URLs are built only
from encoded segments (`servicekit.urls`). The gateway's breaker and adaptive limit, and each
caller's error vocabulary, are layers on this client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from contracts.problems import PROBLEM_CONTENT_TYPE

from .bodies import encode
from .middleware import REQUEST_ID_HEADER, current_request_id
from .retry import RetryPolicy, retrying
from .urls import UrlPath, upstream_url

# Answers that say a service cannot serve anyone right now (our credentials refused is a
# deployment fault, not the caller's), as opposed to its own error on one request.
UNAVAILABLE_STATUSES = frozenset({401, 429, 502, 503, 504})


@dataclass(frozen=True)
class Answer:
    """What a service answered: status, body, headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_problem(self) -> bool:
        return PROBLEM_CONTENT_TYPE in self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class CallFailed(Exception):
    """A call between services that brought no usable answer."""

    def __init__(self, service: str, reason: str, answer: Answer | None = None) -> None:
        super().__init__(f"{service}: {reason}")
        self.service, self.reason, self.answer = service, reason, answer


class ServiceUnavailable(CallFailed):
    """No answer in time, no connection, or an answer that says the service serves no one now."""


class ServiceFailed(CallFailed):
    """The service is up and answered this one request with a 5xx of its own (`answer`)."""


class ServiceClient:
    """Calls to one service at `base_url`, as `name`, with the service token."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        name: str,
        base_url: str,
        token: str,
        timeout: float,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session
        self._authorization = f"Bearer {token}"
        self._retry = retry

    def _headers(self, request_id: str | None, headers: Mapping[str, str] | None, body: bool) -> dict[str, str]:
        sent = {"Authorization": self._authorization}
        request_id = request_id if request_id is not None else current_request_id()
        if request_id:
            sent[REQUEST_ID_HEADER] = request_id
        if body:
            sent["Content-Type"] = "application/json"
        if headers:
            sent.update(headers)
        return sent

    def _sorted(self, answer: Answer) -> Answer:
        if answer.status in UNAVAILABLE_STATUSES:
            raise ServiceUnavailable(self.name, f"answered {answer.status}", answer)
        if answer.status >= 500:
            raise ServiceFailed(self.name, f"answered {answer.status}", answer)
        return answer

    async def request(
        self,
        method: str,
        path: UrlPath,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """One call (tried again by the client's retry policy, if it has one, while the service is
        unavailable); the answer, ServiceUnavailable or ServiceFailed."""
        if self._retry is None:
            return await self._once(method, path, params, body, headers, request_id, timeout)
        return await retrying(
            self._retry,
            lambda: self._once(method, path, params, body, headers, request_id, timeout),
            retry_if=lambda exc: isinstance(exc, ServiceUnavailable),
        )

    async def _once(
        self,
        method: str,
        path: UrlPath,
        params: Mapping[str, str] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        request_id: str | None,
        timeout: float | None,
    ) -> Answer:
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                async with self._session.request(
                    method,
                    upstream_url(self.base_url, path),
                    params=params,
                    data=None if body is None else encode(body),
                    headers=self._headers(request_id, headers, body is not None),
                ) as response:
                    answer = Answer(response.status, await response.read(), response.headers)
        except TimeoutError as exc:
            raise ServiceUnavailable(self.name, f"no answer within {round(limit * 1000)} ms") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ServiceUnavailable(self.name, f"{type(exc).__name__}: {exc}") from exc
        return self._sorted(answer)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        path: UrlPath,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        read_timeout: float,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A call whose answer is read as it arrives (a file): connecting within the client's
        timeout, then each read within `read_timeout`; errors as for `request`."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=read_timeout)
        try:
            async with self._session.request(
                method,
                upstream_url(self.base_url, path),
                params=params,
                headers=self._headers(request_id, headers, False),
                timeout=timeout,
            ) as response:
                if response.status in UNAVAILABLE_STATUSES or response.status >= 500:
                    self._sorted(Answer(response.status, await response.read(), response.headers))
                yield response
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ServiceUnavailable(self.name, f"{type(exc).__name__}: {exc}") from exc

    async def batch(
        self,
        path: UrlPath,
        request: Any,
        *,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The federation's batch read (`POST <path> {user_id, ids}`): the blobs found, by id,
        and the ids not found. Any answer but a 200 with that shape is ServiceFailed."""
        answer = await self.request("POST", path, body=request, headers=headers, request_id=request_id, timeout=timeout)
        if answer.status != 200:
            raise ServiceFailed(self.name, f"refused the batch: {answer.status}", answer)
        try:
            found = msgspec.json.decode(answer.body, type=_Batch)
        except msgspec.DecodeError as exc:
            raise ServiceFailed(self.name, f"answered a batch that does not decode: {exc}", answer) from exc
        return {blob["id"]: blob for blob in found.blobs}, found.missing


class _Batch(msgspec.Struct):
    blobs: list[dict[str, Any]]
    missing: list[str] = []
