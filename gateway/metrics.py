"""The gateway's own metrics, in its app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.upstream_requests = Counter(
            "studio_gateway_upstream_requests",
            "Calls to the services behind the gateway",
            ["source", "outcome"],
            registry=registry,
        )
        self.upstream_latency = Histogram(
            "studio_gateway_upstream_seconds",
            "Latency of calls to the services behind the gateway",
            ["source"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.cache = Counter(
            "studio_gateway_cache", "Book views served from cache or assembled", ["result"], registry=registry
        )
        self.sockets = Gauge("studio_gateway_open_sockets", "Open WebSocket connections", registry=registry)
        self.limit = Gauge(
            "studio_gateway_source_limit", "Adaptive concurrency limit per source", ["source"], registry=registry
        )
        self.in_flight = Gauge(
            "studio_gateway_source_in_flight", "Calls in flight per source", ["source"], registry=registry
        )
        self.queued = Gauge(
            "studio_gateway_source_queued", "Calls waiting for a slot per source", ["source"], registry=registry
        )
        self.shed = Counter(
            "studio_gateway_shed", "Calls shed: no slot within the request's budget", ["source"], registry=registry
        )
        self.circuit = Gauge(
            "studio_gateway_circuit_state", "0 closed, 1 half-open, 2 open", ["source"], registry=registry
        )
        self.events = Counter("studio_gateway_events", "Events received from the stream", ["type"], registry=registry)
        self.event_age = Histogram(
            "studio_gateway_event_age_seconds",
            "From an event's occurred_at (the write, on its service's clock) to its arrival here: "
            "outbox, broker, stream",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.progress = Counter(
            "studio_gateway_progress", "Progress messages received from the progress stream", registry=registry
        )
        self.coalesced = Counter(
            "studio_gateway_progress_coalesced",
            "Progress messages joined to an unsent one for a socket that was behind",
            registry=registry,
        )
        self.dropped_sockets = Counter(
            "studio_gateway_slow_sockets_closed", "Sockets closed because they could not keep up", registry=registry
        )
