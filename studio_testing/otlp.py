"""An OTLP/HTTP trace receiver for the tests: services export to it, tests read the spans back."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    service: str
    instance: str
    attributes: dict[str, Any]


class TraceCollector:
    """Keeps every span it is sent (the services of one test stack), by trace id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans: dict[str, list[ReceivedSpan]] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        received = []
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: _value(a.value) for a in span.attributes}
                    received.append(
                        ReceivedSpan(
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            span.name,
                            span.kind,
                            resource.get("service.name", ""),
                            resource.get("service.instance.id", ""),
                            attributes,
                        )
                    )
        with self._lock:
            for span in received:
                self.spans.setdefault(span.trace_id, []).append(span)
        return web.Response(body=b"", content_type="application/x-protobuf")

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans.get(trace_id, ()))


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
