"""Traces across the federation: W3C trace context in HTTP and NATS headers, spans sent by OTLP when configured.

Every service continues the trace it is handed (a `traceparent` header on a request or on a
NATS message) and hands it on: to the services it calls (a client trace config on its HTTP
session) and to the events it writes (kept in the outbox beside the event, put on the published
message). Spans are made whether or not they are sent anywhere, so that the context always flows;
only with an OTLP endpoint set (OpenTelemetry's own `OTEL_*` variables) are they exported, in
batches, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context

__all__ = [
    "PROPAGATOR",
    "TRACING",
    "Span",
    "SpanKind",
    "Tracer",
    "Tracing",
    "TracingSettings",
    "client_tracing",
    "current_carrier",
    "extract",
    "inject",
    "span",
    "tracing_middleware",
    "tracing_resource",
]
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .settings import ConfigError, Env, setting

# Stateless: it only reads and writes the `traceparent` and `tracestate` headers.
PROPAGATOR = TraceContextTextMapPropagator()


def _traces_endpoint(values: dict[str, Any], env: Env) -> str | None:
    """OpenTelemetry's rule: the traces endpoint as given, else the base endpoint + /v1/traces."""
    base = values.get("endpoint")
    return f"{base.rstrip('/')}/v1/traces" if base else None


SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


@dataclass(frozen=True, kw_only=True)
class TracingSettings:
    """OpenTelemetry's own variables, read as every OpenTelemetry SDK reads them (and OTEL_RESOURCE_ATTRIBUTES
    by the SDK itself); without an endpoint, spans are made and handed on but never sent."""

    endpoint: str | None = setting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        "an OTLP/HTTP collector, e.g. http://collector:4318",
        schemes=("http", "https"),
    )
    traces_endpoint: str | None = setting(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        doc="where spans are sent, whole URL",
        schemes=("http", "https"),
        fallback=_traces_endpoint,
        shown_default="the endpoint + /v1/traces",
    )
    service_name: str | None = setting(
        "OTEL_SERVICE_NAME", None, "the spans' service.name", shown_default="the service's name (gateway, index...)"
    )
    sampler: str = setting(
        "OTEL_TRACES_SAMPLER", "parentbased_always_on", "which traces are kept: " + ", ".join(SAMPLERS)
    )
    sampler_arg: float = setting(
        "OTEL_TRACES_SAMPLER_ARG", 1.0, "the ratio of the *traceidratio samplers", minimum=0.0, maximum=1.0
    )
    schedule_delay_ms: int = setting(
        "OTEL_BSP_SCHEDULE_DELAY",
        5000,
        "how long spans wait to be sent in a batch",
        minimum=1,
        unit="ms (OpenTelemetry's unit)",
    )
    disabled: bool = setting("OTEL_SDK_DISABLED", False, "no spans at all")

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"OTEL_TRACES_SAMPLER={self.sampler!r} is not one of {', '.join(SAMPLERS)}")

    def make_sampler(self) -> Sampler:
        if self.disabled or self.sampler.endswith("always_off"):
            chosen: Sampler = ALWAYS_OFF
        elif self.sampler.endswith("traceidratio"):
            chosen = TraceIdRatioBased(self.sampler_arg)
        else:
            chosen = ALWAYS_ON
        return ParentBased(chosen) if self.sampler.startswith("parentbased_") else chosen


class Tracing:
    """One service instance's tracer; `close()` sends what is left, in the app's cleanup."""

    def __init__(self, service: str, instance: str, settings: TracingSettings) -> None:
        # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES; the attributes given here win.
        resource = Resource.create(
            {
                "service.name": settings.service_name or service,
                "service.instance.id": instance,
                "service.namespace": "reyna-studio",
            }
        )
        self.provider = TracerProvider(resource=resource, sampler=settings.make_sampler())
        if settings.traces_endpoint and not settings.disabled:
            exporter = OTLPSpanExporter(endpoint=settings.traces_endpoint, timeout=5)
            self.provider.add_span_processor(
                BatchSpanProcessor(exporter, schedule_delay_millis=settings.schedule_delay_ms)
            )
        self.tracer: Tracer = self.provider.get_tracer("reyna-studio")

    async def close(self) -> None:
        # Shutting down flushes the last batch over HTTP: not on the event loop.
        await asyncio.to_thread(self.provider.shutdown)


def extract(headers: Mapping[str, str] | None) -> Context:
    """The trace context a request or message carries (an empty context when none)."""
    return PROPAGATOR.extract(dict(headers) if headers else {})


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    """Put the current (or the given) trace context into `headers`."""
    PROPAGATOR.inject(headers, context=context)


def current_carrier() -> dict[str, str]:
    """The current trace context as headers, to keep beside an event until it is published."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier


@contextmanager
def span(
    tracer: Tracer, name: str, *, kind: SpanKind, parent: Mapping[str, str] | None = None, **attributes: Any
) -> Iterator[Span]:
    """A span for `name`, the current one until the block ends; a child of `parent`'s context when given."""
    context = extract(parent) if parent is not None else None
    with tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes) as current:
        yield current


TRACING = web.AppKey("tracing", Tracing)


def tracing_resource(service: str, settings: TracingSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the app's tracer from start to cleanup (spans left are sent at the end)."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        app[TRACING] = Tracing(service, f"{socket.gethostname()}:{os.getpid()}", settings)
        try:
            yield
        finally:
            await app[TRACING].close()

    return resource


@web.middleware
async def tracing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A server span per request, continuing the caller's trace; health and metrics are left out."""
    tracing = request.app.get(TRACING)
    # A socket lives for hours: its events are traced where they are delivered instead.
    upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
    if tracing is None or upgrade or request.path in ("/healthz", "/readyz", "/metrics"):
        return await handler(request)
    route = request.match_info.route.resource
    name = f"{request.method} {route.canonical if route is not None else request.path}"
    with tracing.tracer.start_as_current_span(
        name,
        context=extract(request.headers),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": request.method, "url.path": request.path},
    ) as current:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            current.set_attribute("http.response.status_code", exc.status)
            raise
        current.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            current.set_status(Status(StatusCode.ERROR))
        return response


def client_tracing(tracing: Tracing) -> aiohttp.TraceConfig:
    """For an HTTP session: a client span per request, and its context in the request's headers."""
    config = aiohttp.TraceConfig()

    async def start(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        ctx.span = tracing.tracer.start_span(
            f"{params.method} {params.url.host}:{params.url.port}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": params.method, "url.path": params.url.path},
        )
        inject(params.headers, set_span_in_context(ctx.span))

    async def end(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
        ctx.span.set_attribute("http.response.status_code", params.response.status)
        ctx.span.end()

    async def failed(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
    ) -> None:
        ctx.span.set_status(Status(StatusCode.ERROR, type(params.exception).__name__))
        ctx.span.end()

    config.on_request_start.append(start)
    config.on_request_end.append(end)
    config.on_request_exception.append(failed)
    return config
