"""The skeleton every service's `create_app` fills in: limits, middlewares, health, routes, resources."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from .auth import metrics_guard
from .bodies import BodyReader
from .identifiers import identifier_middleware
from .middleware import STANDARD_MIDDLEWARES
from .observability import add_health_routes
from .tracing import TracingSettings, tracing_middleware, tracing_resource

BODIES = web.AppKey("bodies", BodyReader)


async def answer_headers(request: web.Request, response: web.StreamResponse) -> None:
    """What every answer says about itself: nothing of the server's software or version; no
    content sniffing; and, unless it says how it may be kept (an export's `private` with its
    ETag, the studio's files), that it is not to be stored: answers hold a user's writing."""
    response.headers.popall("Server", None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


def service_app(
    service: str,
    *,
    max_body_bytes: int,
    max_json_depth: int,
    body_timeout_seconds: float = 10.0,
    auth: Middleware,
    metrics_token: str,
    routes: web.RouteTableDef,
    resources: Callable[[web.Application], AsyncIterator[None]],
    tracing: TracingSettings,
) -> web.Application:
    """An app with a span per request, the standard middlewares, the scrape token's guard of
    `/metrics`, then `auth`, then identifier checks; health routes; a body reader; the tracer
    opened before `resources` and closed after."""
    middlewares = [tracing_middleware, *STANDARD_MIDDLEWARES, metrics_guard(metrics_token), auth, identifier_middleware]
    app = web.Application(client_max_size=max_body_bytes, middlewares=middlewares)
    app[BODIES] = BodyReader(max_depth=max_json_depth, read_timeout=body_timeout_seconds)
    add_health_routes(app, service)
    app.router.add_routes(routes)
    app.on_response_prepare.append(answer_headers)
    app.cleanup_ctx.append(tracing_resource(service, tracing))
    app.cleanup_ctx.append(resources)
    return app
