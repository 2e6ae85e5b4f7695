"""The index service's configuration, read once from `STUDIO_*` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.settings import Env, service_tokens, stream_replicas
from servicekit.tracing import TracingSettings, tracing_settings

DEFAULT_MONGO_URL = (
    "mongodb://127.0.0.1:27817/?directConnection=true&retryWrites=false"  # the embedded server (compose/backing.py)
)
DEFAULT_NATS_URL = "nats://127.0.0.1:4322"


@dataclass(frozen=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8006
    mongo_url: str = DEFAULT_MONGO_URL
    database: str = "studio_index"
    nats_url: str = DEFAULT_NATS_URL
    service_token: str
    metrics_token: str  # the scrape token of /metrics (STUDIO_METRICS_TOKEN, else the service token)
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 32
    body_timeout_seconds: float = 10.0
    outbox_scan_seconds: float = 1.0
    duplicate_window_seconds: float = 300.0
    stream_replicas: int = 1
    processor_writes: int = 4  # processors' writes in flight at once; writers' own writes never wait behind more
    tracing: TracingSettings = TracingSettings()
    # Test hook: exit the process after the database write and before the publish.
    crash_before_publish: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        service_token, metrics_token = service_tokens(env)
        return cls(
            host=env.string("STUDIO_INDEX_HOST", "127.0.0.1"),
            port=env.integer("STUDIO_INDEX_PORT", 8006, minimum=1, maximum=65535),
            mongo_url=env.url("STUDIO_INDEX_MONGO_URL", DEFAULT_MONGO_URL, schemes=("mongodb", "mongodb+srv")),
            database=env.string("STUDIO_INDEX_DATABASE", "studio_index"),
            nats_url=env.url("STUDIO_NATS_URL", DEFAULT_NATS_URL, schemes=("nats", "tls")),
            service_token=service_token,
            metrics_token=metrics_token,
            max_body_bytes=env.integer("STUDIO_MAX_BODY_BYTES", 1024 * 1024, minimum=1024),
            max_json_depth=env.integer("STUDIO_MAX_JSON_DEPTH", 32, minimum=2, maximum=500),
            body_timeout_seconds=env.number("STUDIO_BODY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            outbox_scan_seconds=env.number("STUDIO_OUTBOX_SCAN_SECONDS", 1.0, minimum=0.05),
            duplicate_window_seconds=env.number("STUDIO_DUPLICATE_WINDOW_SECONDS", 300.0, minimum=1.0),
            stream_replicas=stream_replicas(env),
            processor_writes=env.integer("STUDIO_INDEX_PROCESSOR_WRITES", 4, minimum=1, maximum=1024),
            tracing=tracing_settings(env),
            crash_before_publish=env.boolean("STUDIO_INDEX_TEST_CRASH_BEFORE_PUBLISH", False),
        )
