"""What every processor reads from `STUDIO_*` variables, under its own prefix for what is its own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.settings import ConfigError, Env, data_dir, service_tokens, stream_replicas
from servicekit.tracing import TracingSettings, tracing_settings


def _durations(env: Env, name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = env.string(name, "")
    if not raw:
        return default
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a comma-separated list of seconds") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(f"{name}={raw!r} needs one or more non-negative numbers")
    return values


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    """Consuming, acking and serving settings of one processor instance."""

    host: str = "127.0.0.1"
    port: int
    base_url: str
    nats_url: str = "nats://127.0.0.1:4322"
    stream_replicas: int = 1
    tracing: TracingSettings = TracingSettings()
    index_url: str = "http://127.0.0.1:8006"
    service_token: str
    metrics_token: str  # the scrape token of /metrics (STUDIO_METRICS_TOKEN, else the service token)
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 32
    body_timeout_seconds: float = 10.0
    concurrency: int = 16
    ack_wait_seconds: float = 30.0
    max_deliver: int = 5
    backoff_seconds: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0)
    fetch_timeout_seconds: float = 1.0
    # Test hook: exit after the store write and before the ack.
    crash_after_store: bool = False

    @classmethod
    def from_env(
        cls, prefix: str, default_port: int, environ: Mapping[str, str] | None = None, *, concurrency: int = 16
    ) -> RuntimeSettings:
        env = Env(environ)
        host = env.string(f"STUDIO_{prefix}_HOST", "127.0.0.1")
        port = env.integer(f"STUDIO_{prefix}_PORT", default_port, minimum=1, maximum=65535)
        reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        service_token, metrics_token = service_tokens(env)
        return cls(
            host=host,
            port=port,
            base_url=env.url(f"STUDIO_{prefix}_BASE_URL", f"http://{reachable}:{port}", schemes=("http", "https")),
            nats_url=env.url("STUDIO_NATS_URL", "nats://127.0.0.1:4322", schemes=("nats", "tls")),
            stream_replicas=stream_replicas(env),
            tracing=tracing_settings(env),
            index_url=env.url("STUDIO_INDEX_URL", "http://127.0.0.1:8006", schemes=("http", "https")),
            service_token=service_token,
            metrics_token=metrics_token,
            max_body_bytes=env.integer("STUDIO_MAX_BODY_BYTES", 1024 * 1024, minimum=1024),
            max_json_depth=env.integer("STUDIO_MAX_JSON_DEPTH", 32, minimum=2, maximum=500),
            body_timeout_seconds=env.number("STUDIO_BODY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            concurrency=env.integer(f"STUDIO_{prefix}_CONCURRENCY", concurrency, minimum=1, maximum=256),
            ack_wait_seconds=env.number("STUDIO_PROCESSOR_ACK_WAIT_SECONDS", 30.0, minimum=0.5),
            max_deliver=env.integer("STUDIO_PROCESSOR_MAX_DELIVER", 5, minimum=1, maximum=1000),
            backoff_seconds=_durations(env, "STUDIO_PROCESSOR_BACKOFF_SECONDS", (1.0, 5.0, 15.0, 30.0)),
            fetch_timeout_seconds=env.number("STUDIO_PROCESSOR_FETCH_TIMEOUT_SECONDS", 1.0, minimum=0.05),
            crash_after_store=env.boolean("STUDIO_PROCESSOR_TEST_CRASH_AFTER_STORE", False),
        )


def embedded_database_url(env: Env, variable: str, processor_id: str) -> str:
    """`variable`, else the URL the one-machine stack wrote for `processor_id` in its stack.json."""
    explicit = env.string(variable, "")
    if explicit:
        return env.url(variable, explicit, schemes=("postgresql", "postgres"))
    stack = data_dir(env) / "stack.json"
    if stack.exists():
        url = json.loads(stack.read_text()).get("databases", {}).get(processor_id)
        if url:
            return str(url)
    raise ConfigError(f"{variable} must be set (no running one-machine stack to take it from)")


@dataclass(frozen=True, kw_only=True)
class ProcessorSettings:
    """A processor's settings: the runtime's, and whatever the processor adds in a subclass."""

    runtime: RuntimeSettings

    @property
    def host(self) -> str:
        return self.runtime.host

    @property
    def port(self) -> int:
        return self.runtime.port
