"""Request ids, problem+json for every error, and request metrics: one middleware each."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from aiohttp import web

from contracts.problems import PROBLEM_CONTENT_TYPE, Problem

from .auth import challenge
from .bodies import encode
from .errors import PROBLEM_TYPE_PREFIX, PayloadTooLarge, ServiceError, Unauthorized
from .observability import METRICS_KEY

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)


def problem_response(problem: Problem) -> web.Response:
    headers = {"Content-Type": PROBLEM_CONTENT_TYPE}
    if problem.request_id:
        headers[REQUEST_ID_HEADER] = problem.request_id
    return web.Response(status=problem.status, body=encode(problem), headers=headers)


_CURRENT_REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")


def current_request_id() -> str:
    """The id of the request being handled in this task ("" outside one): calls it makes carry it."""
    return _CURRENT_REQUEST_ID.get()


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")


def request_id_from(value: str | None) -> str:
    """The caller's request id if it is a plain token (it goes into logs and headers), else a new one."""
    if value and _REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take the caller's request id or make one; echo it on the response."""
    request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID_KEY] = request_id
    _CURRENT_REQUEST_ID.set(request_id)  # until the next request on this connection sets its own
    response = await handler(request)
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _unread_encoded_body(request: web.Request) -> bool:
    """Answered before its compressed body was read: give up on the body rather than let the
    server drain it afterwards, where a body that does not decode would fail unhandled."""
    if "Content-Encoding" not in request.headers or request.content.is_eof():
        return False
    request.content.feed_eof()
    return True


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every error, ours or aiohttp's, to an RFC 9457 body; nothing leaks a traceback."""
    response = await _problem_or_response(request, handler)
    if _unread_encoded_body(request) and not response.prepared:
        response.force_close()
    return response


async def _problem_or_response(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.get(REQUEST_ID_KEY)
    try:
        return await handler(request)
    except ServiceError as exc:
        if exc.status >= 500:
            log.warning("%s %s -> %s: %s [%s]", request.method, request.path, exc.status, exc, request_id)
        elif exc.close_connection:
            log.info("%s %s -> %s: %s [%s]", request.method, request.path, exc.status, exc, request_id)
        response = problem_response(exc.problem(request_id))
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = challenge(exc)  # RFC 6750 §3
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        if exc.close_connection:
            response.force_close()
        return response
    except web.HTTPRequestEntityTooLarge as exc:
        return problem_response(PayloadTooLarge(exc.text or "").problem(request_id))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "-")
        return problem_response(
            Problem(type=PROBLEM_TYPE_PREFIX + code, title=exc.reason, status=exc.status, request_id=request_id)
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s [%s]", request.method, request.path, request_id)
        return problem_response(ServiceError("unexpected error; see the service log").problem(request_id))


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count requests and time them per route template, not per concrete path."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics = request.app[METRICS_KEY]
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - started)


# Order matters: request ids first, metrics see the final status, problems innermost.
STANDARD_MIDDLEWARES = (request_id_middleware, metrics_middleware, problem_middleware)
