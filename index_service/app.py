"""`create_app(settings)`: the index service's aiohttp application and its resources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from contracts.validation import ValidatorCache
from servicekit.auth import service_token_middleware
from servicekit.mongo import mongo_client
from servicekit.app import service_app
from servicekit.observability import READINESS_KEY
from servicekit.stream import connect, ensure_stream, nats_ready, stream_config

from .books import BookStore
from .keys import BLOBS, BOOKS, MONGO, NATS, PROCESSORS, RELAY, SCHEMAS, SETTINGS
from .outbox import OutboxRelay
from .registry import ProcessorRegistry, SchemaRegistry
from .routes import routes
from .settings import Settings
from .store import BlobStore

log = logging.getLogger(__name__)


async def resources(app: web.Application) -> AsyncIterator[None]:
    """Open MongoDB and NATS, prepare indexes, schemas and the stream, run the outbox relay."""
    settings = app[SETTINGS]
    mongo = mongo_client(settings.mongo_url, appname="studio-index")
    nc = await connect(settings.nats_url, name="studio-index")
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream_config(duplicate_window_seconds=settings.duplicate_window_seconds, replicas=settings.stream_replicas))
        db = mongo[settings.database]
        await BlobStore.create_indexes(db)
        await BookStore.create_indexes(db)
        schemas = SchemaRegistry(db, ValidatorCache())
        await schemas.load_builtins()
        relay, compile_relay, processor_relay = (
            OutboxRelay(db[name], js, scan_seconds=settings.outbox_scan_seconds, crash_before_publish=settings.crash_before_publish)
            for name in ("blobs", "compile_requests", "processors")
        )
        app[MONGO], app[NATS], app[RELAY], app[SCHEMAS] = mongo, nc, relay, schemas
        app[BLOBS] = BlobStore(db, schemas, relay)
        repaired = await app[BLOBS].repair()
        if repaired:
            log.warning("repaired %d stored blob(s) whose chapter number no store can use", repaired)
        app[BOOKS] = BookStore(db, compile_relay)
        app[PROCESSORS] = ProcessorRegistry(db, processor_relay)

        async def mongo_ready() -> None:
            await mongo.admin.command("ping")

        app[READINESS_KEY].extend([mongo_ready, nats_ready(nc)])
        tasks = [asyncio.create_task(r.run(), name=f"outbox-relay-{i}") for i, r in enumerate((relay, compile_relay, processor_relay))]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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
        routes=routes,
        resources=resources,
    )
    app[SETTINGS] = settings
    return app
