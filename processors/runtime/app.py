"""`processor_app(processor, settings, handler)`: a processor's service around its handler and store.

At start it opens the store, connects to NATS and the index service, registers itself and its
output schema, makes sure the streams exist, and starts its durable consumers; at shutdown it
stops consuming, drains NATS and closes everything in reverse.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contracts.models import ProcessorRegistration
from contracts.validation import ValidatorCache, builtin_schemas, schemas_in
from servicekit.app import service_app
from servicekit.auth import service_token_middleware
from servicekit.client import ServiceClient
from servicekit.observability import METRICS_KEY, READINESS_KEY
from servicekit.retry import STARTUP, retrying
from servicekit.stream import connect, ensure_stream, nats_ready, progress_stream_config, stream_config
from servicekit.tracing import TRACING, client_tracing

from .base import DerivingProcessor, Handler, Processor
from .consumer import EventConsumer
from .deadletter import ensure_dead_letter_stream
from .errors import RegistrationRefused
from .handler import DerivingHandler
from .index_client import IndexClient
from .keys import INDEX, LIFECYCLE, NATS, PROCESSOR, RUNTIME
from .lifecycle import Lifecycle
from .metrics import ProcessorMetrics
from .peers import Peers
from .progress import Derivation, Progress, StreamProgress
from .routes import routes
from .settings import RuntimeSettings

INDEX_TIMEOUT_SECONDS = 10.0  # one call to the index (processors wait; JetStream redelivers on a timeout)


def registration(processor: Processor, settings: RuntimeSettings, subscriptions: list[str]) -> ProcessorRegistration:
    info = processor.info
    return ProcessorRegistration(
        id=info.id,
        name=info.name,
        description=info.description,
        storage_type=info.storage_type,
        database_name=info.database_name,
        input_schema_ids=list(info.input_schema_ids),
        output_schema_id=info.output_schema_id,
        base_url=settings.base_url,
        health_endpoint="/healthz",
        query_endpoint="/blobs/batch",
        event_subscriptions=subscriptions,
        max_concurrency=settings.concurrency,
        timeout_seconds=info.timeout_seconds,
        output_scope=info.output_scope,
        reads=list(info.reads),
    )


def owned_schemas(processor: Processor) -> dict[str, dict[str, Any]]:
    """The schemas a processor ships in its own package (its output's, for one)."""
    package = processor.info.schema_package
    return schemas_in(package) if package else {}


async def patiently(step: Callable[[], Awaitable[None]]) -> None:
    """Run a registration step, waiting for the index service if it is not up yet; a schema the
    registry refuses, or a registration it refuses, stops the start at once."""
    await retrying(STARTUP, step, retry_if=lambda exc: not isinstance(exc, RegistrationRefused))


async def _register_processor(
    index: IndexClient, entry: ProcessorRegistration, registered: list[ProcessorRegistration]
) -> None:
    registered.append(await index.register_processor(entry))


async def register_schemas(index: IndexClient, owned: dict[str, dict[str, Any]]) -> None:
    for schema_id, schema in owned.items():
        await index.register_schema(schema_id, schema)


async def _learn_schemas(
    index: IndexClient, processor: Processor, owned: dict[str, dict[str, Any]], validators: ValidatorCache
) -> None:
    """Validators for what the processor reads and writes: the core's and its own schemas, and
    any other processor's output it consumes, as the registry has it. One whose owner has not
    registered it yet is learnt when the first blob of it arrives."""
    known = {**builtin_schemas(), **owned}
    info = processor.info
    for schema_id in (*info.input_schema_ids, info.output_schema_id):
        schema = known.get(schema_id) or await index.schema(schema_id)
        if schema is not None:
            validators.put(schema_id, schema)


@dataclass(frozen=True)
class RuntimeContext:
    """What a handler may use: the index service, other processors, validators, the stream."""

    index: IndexClient
    peers: Peers
    validators: ValidatorCache
    nc: NatsClient
    js: JetStreamContext
    settings: RuntimeSettings


HandlerFactory = Callable[[RuntimeContext], Handler]


def deriving(processor: DerivingProcessor) -> HandlerFactory:
    """The handler of a processor that derives one blob from one user blob."""

    def make(context: RuntimeContext) -> Handler:
        def progress(derivation: Derivation) -> Progress:
            return StreamProgress(context.js, derivation, interval=context.settings.progress_seconds)

        return DerivingHandler(
            processor,
            context.index,
            context.validators,
            peers=context.peers,
            crash_after_store=context.settings.crash_after_store,
            progress=progress,
            nc=context.nc,
        )

    return make


def processor_app(processor: Processor, settings: RuntimeSettings, make_handler: HandlerFactory) -> web.Application:
    """The processor's aiohttp app: query API, health, metrics, and its consumers as resources."""

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await processor.open()
        session = aiohttp.ClientSession(trace_configs=[client_tracing(app[TRACING])])
        nc = await connect(settings.nats_url, name=f"studio-{processor.info.id}")
        lifecycle: Lifecycle | None = None
        handler: Handler | None = None
        try:
            js = nc.jetstream()
            replicas = settings.stream_replicas
            await ensure_stream(js, stream_config(replicas=replicas))
            await ensure_dead_letter_stream(js, replicas=replicas)
            await ensure_stream(js, progress_stream_config(replicas=replicas))
            index = IndexClient(
                ServiceClient(
                    session,
                    name="index",
                    base_url=settings.index_url,
                    token=settings.service_token,
                    timeout=INDEX_TIMEOUT_SECONDS,
                )
            )
            peers = Peers(index, session, settings.service_token)
            app[NATS], app[INDEX] = nc, index
            owned = owned_schemas(processor)
            await patiently(lambda: register_schemas(index, owned))
            validators = ValidatorCache()
            await patiently(lambda: _learn_schemas(index, processor, owned, validators))
            handler = make_handler(RuntimeContext(index, peers, validators, nc, js, settings))
            entry = registration(processor, settings, handler.subjects())
            registered: list[ProcessorRegistration] = []
            await patiently(lambda: _register_processor(index, entry, registered))
            await handler.start()
            metrics = ProcessorMetrics(app[METRICS_KEY].registry, processor.info.id)
            running = handler

            def consumers() -> list[EventConsumer]:
                return [
                    EventConsumer(
                        js,
                        processor_id=processor.info.id,
                        subject=subject,
                        settings=settings,
                        handle=running.handle,
                        metrics=metrics,
                        report=index.report_failure,
                        tracer=app[TRACING].tracer,
                        workers=settings.concurrency
                        if not subject.startswith(("blob.deleted", "processor.replay"))
                        else 1,
                    )
                    for subject in running.subjects()
                ]

            lifecycle = app[LIFECYCLE] = Lifecycle(nc, processor.info.id, consumers)
            await lifecycle.start(active=registered[-1].active)

            async def store_ready() -> None:
                await processor.store.ready()

            app[READINESS_KEY].extend([store_ready, nats_ready(nc)])
            yield
        finally:
            if lifecycle is not None:
                await lifecycle.stop()
            if handler is not None:
                await handler.stop()
            with contextlib.suppress(Exception):
                await nc.drain()
            await session.close()
            await processor.close()

    app = service_app(
        processor.info.id,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        body_timeout_seconds=settings.body_timeout_seconds,
        auth=service_token_middleware(settings.service_token),
        metrics_token=settings.metrics_token,
        routes=routes,
        resources=resources,
        tracing=settings.tracing,
    )
    app.router.add_routes(processor.extra_routes())
    app[PROCESSOR] = processor
    app[RUNTIME] = settings
    return app
