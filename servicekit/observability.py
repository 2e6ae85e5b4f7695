"""/healthz, /readyz and /metrics (Prometheus text format), per app, no global registry."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ReadinessCheck = Callable[[], Awaitable[None]]


class Metrics:
    """One registry per app, so several apps can live in one test process."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "studio_http_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "studio_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.loop_lag = Histogram(
            "studio_event_loop_lag_seconds",
            "How late the event loop ran a timer it was asked to run (every 0.25 s): how long work waited for the loop",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )


LAG_INTERVAL_SECONDS = 0.25


async def _watch_loop(metrics: Metrics) -> None:
    """Sleep a known time, again and again; whatever comes on top is the loop's lag."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(LAG_INTERVAL_SECONDS)
        metrics.loop_lag.observe(max(0.0, time.perf_counter() - asked - LAG_INTERVAL_SECONDS))


async def loop_lag_resource(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: the event-loop lag watched while the app runs."""
    watcher = asyncio.create_task(_watch_loop(app[METRICS_KEY]))
    yield
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher


METRICS_KEY = web.AppKey("metrics", Metrics)
READINESS_KEY = web.AppKey("readiness_checks", list[ReadinessCheck])


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": request.app[METRICS_KEY].service})


async def readyz(request: web.Request) -> web.Response:
    """Ready when every dependency check passes; 503 naming the first that fails."""
    for check in request.app[READINESS_KEY]:
        try:
            await check()
        except Exception as exc:  # any failure means "not ready", whatever raised it
            return web.json_response({"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_health_routes(app: web.Application, service: str) -> None:
    app[METRICS_KEY] = Metrics(service)
    app[READINESS_KEY] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.append(loop_lag_resource)
