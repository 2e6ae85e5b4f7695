"""`create_app(settings)`: the gateway's aiohttp application and its resources."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from gateway.auth import Authenticator, auth_middleware
from gateway.fanout.aggregate import Aggregator
from gateway.fanout.cache import ViewCache
from gateway.fanout.registry import Directory
from gateway.fanout.sources import Source
from gateway.identity import TokenVerifier
from gateway.keys import (
    AGGREGATOR,
    AUTHENTICATOR,
    CACHE,
    DIRECTORY,
    GATEWAY_METRICS,
    HUB,
    INDEX,
    LIVE,
    PROGRESS,
    SESSION,
    SETTINGS,
)
from gateway.live.events import LiveEvents
from gateway.live.hub import Hub
from gateway.live.progress import ProgressFeed
from gateway.metrics import GatewayMetrics
from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.limiter import AdaptiveLimit
from gateway.routes import apidocs, studio
from gateway.routes.blobs import routes
from gateway.routes.compiled import routes as compiled_routes
from gateway.routes.pitches import routes as pitch_routes
from gateway.routes.relay import Upstream
from gateway.routes.sections import routes as section_routes
from gateway.routes.socket import routes as socket_routes
from gateway.routes.views import routes as view_routes
from gateway.settings import Settings
from servicekit.app import service_app
from servicekit.client import ServiceClient, ServiceUnavailable
from servicekit.observability import METRICS_KEY, READINESS_KEY
from servicekit.stream import connect, ensure_stream, nats_ready, progress_stream_config
from servicekit.tracing import TRACING, client_tracing
from servicekit.urls import url_path


async def resources(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session for every upstream call, the NATS subscription, the hub; closed in reverse."""
    settings = app[SETTINGS]
    metrics = GatewayMetrics(app[METRICS_KEY].registry)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=500, limit_per_host=200), trace_configs=[client_tracing(app[TRACING])]
    )
    nc = await connect(settings.nats_url, name="studio-gateway")
    token = settings.service_token
    breaker = functools.partial(
        CircuitBreaker, failures=settings.circuit_failures, cooldown=settings.circuit_cooldown_seconds
    )
    limit = functools.partial(
        AdaptiveLimit, floor=settings.source_timeout_seconds, ceiling=settings.source_timeout_ceiling_seconds
    )

    def client(name: str, base_url: str) -> ServiceClient:
        return ServiceClient(
            session, name=name, base_url=base_url, token=token, timeout=settings.upstream_timeout_seconds
        )

    index_client = client("index", settings.index_url)
    # Reads go through the index's adaptive limit and breaker; a writer's own write does not wait
    # behind slow reads nor get refused because they failed: it has its own deadline.
    index = Source(index_client, metrics, breaker=breaker(), limit=limit("index"))
    directory = Directory(index, client, metrics, ttl=settings.registry_ttl_seconds, breaker=breaker, limit=limit)
    app[DIRECTORY] = directory
    cache = ViewCache(settings.cache_size)
    hub = Hub(metrics, queue_size=settings.ws_queue_size)
    js = nc.jetstream()
    live = LiveEvents(js, hub, cache, directory, metrics, tracer=app[TRACING].tracer)
    progress = app[PROGRESS] = ProgressFeed(js, hub, metrics)
    app[GATEWAY_METRICS], app[SESSION], app[CACHE], app[HUB], app[LIVE] = metrics, session, cache, hub, live
    app[INDEX] = Upstream(index_client)
    app[AGGREGATOR] = Aggregator(
        index,
        directory,
        total=settings.request_budget_seconds,
        repair=live.request_repair,
        pending_grace=settings.pending_grace_seconds,
    )
    try:
        await live.start()
        await ensure_stream(
            js, progress_stream_config(replicas=settings.stream_replicas)
        )  # the processors that stream may not have started yet
        await progress.start()

        async def index_ready() -> None:
            answer = await index_client.request("GET", url_path("healthz"), timeout=2)
            if answer.status != 200:
                raise ServiceUnavailable("index", f"answered {answer.status}", answer)

        app[READINESS_KEY].extend([index_ready, nats_ready(nc)])
        yield
    finally:
        await progress.stop()
        await live.stop()
        await hub.close_all()
        with contextlib.suppress(Exception):
            await nc.drain()
        await session.close()


def create_app(settings: Settings) -> web.Application:
    authenticator = Authenticator(
        TokenVerifier(
            settings.jwt_secret,
            jwks_url=settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_cache_seconds=settings.jwks_cache_seconds,
            jwks_refresh_cooldown_seconds=settings.jwks_refresh_cooldown_seconds,
            max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
        )
    )
    app = service_app(
        "gateway",
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        body_timeout_seconds=settings.body_timeout_seconds,
        auth=auth_middleware(authenticator),
        metrics_token=settings.metrics_token,
        routes=routes,
        resources=resources,
        tracing=settings.tracing,
    )
    app.router.add_routes(view_routes)
    app.router.add_routes(compiled_routes)
    app.router.add_routes(pitch_routes)
    app.router.add_routes(section_routes)
    app.router.add_routes(socket_routes)
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = authenticator
    apidocs.install(app)
    studio.install(app)
    return app
