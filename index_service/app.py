"""`create_app(settings)`: the index service's aiohttp application and its resources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from contracts.validation import ValidatorCache
from servicekit.app import service_app
from servicekit.auth import service_token_middleware
from servicekit.mongo import mongo_client
from servicekit.observability import METRICS_KEY, READINESS_KEY
from servicekit.stream import connect, ensure_stream, nats_ready, stream_config
from servicekit.tracing import TRACING

from .books import BookStore
from .failures import FailureStore
from .keys import BLOBS, BOOKS, FAILURES, MONGO, NATS, PROCESSOR_LANE, PROCESSORS, RELAY, SCHEMAS, SETTINGS
from .lane import ProcessorLane
from .outbox import OutboxRelay
from .registry import ProcessorRegistry, SchemaRegistry
from .routes import routes
from .settings import Settings
from .store import BlobStore

log = logging.getLogger(__name__)


CASCADE_SWEEP_SECONDS = 5.0


async def _sweep_cascades(store: BlobStore, every: float) -> None:
    """Finish deletions whose cascade a database error cut short while this process ran on."""
    while True:
        await asyncio.sleep(every)
        try:
            await store.finish_cascades()
        except Exception as exc:  # the database is away: the next sweep tries again
            log.warning("cascade sweep failed: %s", exc)


async def resources(app: web.Application) -> AsyncIterator[None]:
    """Open MongoDB and NATS, prepare indexes, schemas and the stream, run the outbox relay."""
    settings = app[SETTINGS]
    mongo = mongo_client(settings.mongo_url, appname="studio-index")
    nc = await connect(settings.nats_url, name="studio-index")
    try:
        js = nc.jetstream()
        await ensure_stream(
            js,
            stream_config(
                duplicate_window_seconds=settings.duplicate_window_seconds, replicas=settings.stream_replicas
            ),
        )
        db = mongo[settings.database]
        await BlobStore.create_indexes(db)
        await BookStore.create_indexes(db)
        schemas = SchemaRegistry(db, ValidatorCache())
        await schemas.load_builtins()
        relay, compile_relay, processor_relay, failure_relay, book_relay = relays = [
            OutboxRelay(
                db[name],
                js,
                scan_seconds=settings.outbox_scan_seconds,
                crash_before_publish=settings.crash_before_publish,
                tracer=app[TRACING].tracer,
            )
            for name in ("blobs", "compile_requests", "processors", "failures", "books")
        ]
        await FailureStore.create_indexes(db)
        failures = FailureStore(db, failure_relay)
        app[MONGO], app[NATS], app[RELAY], app[SCHEMAS] = mongo, nc, relay, schemas
        app[FAILURES] = failures
        app[BLOBS] = BlobStore(db, schemas, relay, failures)
        repaired = await app[BLOBS].repair()
        if repaired:
            log.warning("repaired %d stored blob(s) whose chapter number no store can use", repaired)
        finished = await app[BLOBS].finish_cascades()
        if finished:
            log.warning("finished %d deletion(s) that a stop had interrupted", finished)
        app[BOOKS] = BookStore(db, compile_relay, failures, book_relay)
        app[PROCESSORS] = ProcessorRegistry(db, processor_relay)

        async def mongo_ready() -> None:
            await mongo.admin.command("ping")

        app[READINESS_KEY].extend([mongo_ready, nats_ready(nc)])
        tasks = [
            asyncio.create_task(
                r.run(before_scan=app[BLOBS].drop_orphans if r is relay else None), name=f"outbox-relay-{i}"
            )
            for i, r in enumerate(relays)
        ]
        tasks.append(asyncio.create_task(_sweep_cascades(app[BLOBS], CASCADE_SWEEP_SECONDS), name="cascade-sweeper"))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await app[BLOBS].close()
    finally:
        await nc.drain()
        await mongo.close()


def create_app(settings: Settings) -> web.Application:
    app = service_app(
        "index",
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        body_timeout_seconds=settings.body_timeout_seconds,
        auth=service_token_middleware(settings.service_token),
        metrics_token=settings.metrics_token,
        routes=routes,
        resources=resources,
        tracing=settings.tracing,
    )
    app[SETTINGS] = settings
    app[PROCESSOR_LANE] = ProcessorLane(settings.processor_writes, app[METRICS_KEY].registry)
    return app
