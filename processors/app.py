"""`processor_app(processor, settings)`: a processor's service around its transform and store.

At start it opens the store, connects to NATS and the index service, registers itself and its
output schema, makes sure the streams exist, and starts its durable consumers; at shutdown it
stops consuming, drains NATS and closes everything in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from contracts import subjects
from contracts.models import ProcessorRegistration
from contracts.validation import ValidatorCache, builtin_schemas
from servicekit.app import service_app
from servicekit.auth import service_token_middleware
from servicekit.observability import METRICS_KEY, READINESS_KEY
from servicekit.stream import connect, ensure_stream, stream_config

from .base import Processor
from .consumer import EventConsumer
from .deadletter import ensure_dead_letter_stream, replay_subject
from .handler import DerivingHandler
from .index_client import IndexClient
from .keys import INDEX, NATS, PROCESSOR, RUNTIME
from .metrics import ProcessorMetrics
from .routes import routes
from .settings import RuntimeSettings

REGISTRATION_ATTEMPTS = 60


def subscriptions(processor: Processor) -> list[str]:
    """The subjects a blob-deriving processor consumes: its inputs' changes, deletions, replays."""
    info = processor.info
    found = []
    for schema_id in info.input_schema_ids:
        found += [subjects.blob_created(schema_id), subjects.blob_updated(schema_id), subjects.blob_deleted(schema_id)]
    found.append(subjects.blob_deleted(info.output_schema_id))
    found.append(replay_subject(info.id))
    return found


def registration(processor: Processor, settings: RuntimeSettings) -> ProcessorRegistration:
    info = processor.info
    return ProcessorRegistration(
        id=info.id, name=info.name, description=info.description, storage_type=info.storage_type,
        database_name=info.database_name, input_schema_ids=list(info.input_schema_ids),
        output_schema_id=info.output_schema_id, base_url=settings.base_url, health_endpoint="/healthz",
        query_endpoint="/blobs/batch", event_subscriptions=subscriptions(processor),
        max_concurrency=settings.concurrency, timeout_seconds=info.timeout_seconds,
    )  # fmt: skip


async def _register(index: IndexClient, processor: Processor, settings: RuntimeSettings) -> None:
    """Register the output schema and the processor, waiting for the index service if it is not up yet."""
    schema = builtin_schemas().get(processor.info.output_schema_id)
    for attempt in range(REGISTRATION_ATTEMPTS):
        try:
            if schema is not None:
                await index.register_schema(processor.info.output_schema_id, schema)
            await index.register_processor(registration(processor, settings))
            return
        except Exception:
            if attempt == REGISTRATION_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.5)


def processor_app(processor: Processor, settings: RuntimeSettings) -> web.Application:
    """The processor's aiohttp app: query API, health, metrics, and its consumers as resources."""

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await processor.open()
        session = aiohttp.ClientSession()
        nc = await connect(settings.nats_url, name=f"studio-{processor.info.id}")
        consumers: list[EventConsumer] = []
        try:
            js = nc.jetstream()
            await ensure_stream(js, stream_config())
            await ensure_dead_letter_stream(js)
            index = IndexClient(session, settings.index_url, settings.service_token)
            app[NATS], app[INDEX] = nc, index
            await _register(index, processor, settings)
            validators = ValidatorCache()
            for schema_id, schema in builtin_schemas().items():
                validators.put(schema_id, schema)
            handler = DerivingHandler(processor, index, validators, crash_after_store=settings.crash_after_store)
            metrics = ProcessorMetrics(app[METRICS_KEY].registry, processor.info.id)
            for subject in subscriptions(processor):
                busy = subject.startswith(("blob.created", "blob.updated"))
                consumer = EventConsumer(
                    js, processor_id=processor.info.id, subject=subject, settings=settings, handle=handler.handle,
                    metrics=metrics, workers=settings.concurrency if busy else 1,
                )  # fmt: skip
                await consumer.start()
                consumers.append(consumer)

            async def store_ready() -> None:
                await processor.store.ready()

            async def nats_ready() -> None:
                if not nc.is_connected:
                    raise ConnectionError("not connected to NATS")

            app[READINESS_KEY].extend([store_ready, nats_ready])
            yield
        finally:
            for consumer in consumers:
                await consumer.stop()
            with contextlib.suppress(Exception):
                await nc.drain()
            await session.close()
            await processor.close()

    app = service_app(
        processor.info.id,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        auth=service_token_middleware(settings.service_token),
        routes=routes,
        resources=resources,
    )
    app.router.add_routes(processor.extra_routes())
    app[PROCESSOR] = processor
    app[RUNTIME] = settings
    return app
