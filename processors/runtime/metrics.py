"""A processor's own metrics, in its app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ProcessorMetrics:
    def __init__(self, registry: CollectorRegistry, processor_id: str) -> None:
        self.messages = Counter(
            "studio_processor_messages",
            "Messages handled, by outcome (processed, duplicate, skipped, deleted, failed, terminated)",
            ["processor", "outcome"],
            registry=registry,
        )
        self.redelivered = Counter(
            "studio_processor_redelivered", "Messages seen more than once", ["processor"], registry=registry
        )
        self.processing = Histogram(
            "studio_processor_processing_seconds",
            "Time to handle one message",
            ["processor"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.processor_id = processor_id

    def outcome(self, name: str) -> None:
        self.messages.labels(self.processor_id, name).inc()
