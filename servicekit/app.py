"""The skeleton every service's `create_app` fills in: limits, middlewares, health, routes, resources."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from .bodies import BodyReader
from .identifiers import identifier_middleware
from .middleware import STANDARD_MIDDLEWARES
from .observability import add_health_routes
from .tracing import TracingSettings, tracing_middleware, tracing_resource

BODIES = web.AppKey("bodies", BodyReader)


def service_app(
    service: str,
    *,
    max_body_bytes: int,
    max_json_depth: int,
    body_timeout_seconds: float = 10.0,
    auth: Middleware,
    routes: web.RouteTableDef,
    resources: Callable[[web.Application], AsyncIterator[None]],
    tracing: TracingSettings,
) -> web.Application:
    """An app with a span per request, the standard middlewares, then `auth`, then identifier
    checks; health routes; a body reader; the tracer opened before `resources` and closed after."""
    middlewares = [tracing_middleware, *STANDARD_MIDDLEWARES, auth, identifier_middleware]
    app = web.Application(client_max_size=max_body_bytes, middlewares=middlewares)
    app[BODIES] = BodyReader(max_depth=max_json_depth, read_timeout=body_timeout_seconds)
    add_health_routes(app, service)
    app.router.add_routes(routes)
    app.cleanup_ctx.append(tracing_resource(service, tracing))
    app.cleanup_ctx.append(resources)
    return app
