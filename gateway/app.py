"""`create_app(settings)`: the gateway's aiohttp application and its resources."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from servicekit.app import service_app
from servicekit.observability import READINESS_KEY

from .auth import auth_middleware
from .keys import INDEX, SESSION, SETTINGS
from .routes import routes
from .settings import Settings
from .upstream import Upstream


async def resources(app: web.Application) -> AsyncIterator[None]:
    """One HTTP client session for every upstream call, closed at shutdown."""
    settings = app[SETTINGS]
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200, limit_per_host=100))
    app[SESSION] = session
    app[INDEX] = Upstream("index", session, settings.index_url, settings.service_token, settings.upstream_timeout_seconds)

    async def index_ready() -> None:
        async with session.get(settings.index_url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
            response.raise_for_status()

    app[READINESS_KEY].append(index_ready)
    yield
    await session.close()


def create_app(settings: Settings) -> web.Application:
    app = service_app(
        "gateway",
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        auth=auth_middleware(settings.jwt_secret),
        routes=routes,
        resources=resources,
    )
    app[SETTINGS] = settings
    return app
