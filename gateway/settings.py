"""The gateway's configuration, read once from `STUDIO_*` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.auth import DEFAULT_MAX_LIFETIME_SECONDS
from servicekit.settings import SECRET_MIN_LENGTH, ConfigError, Env, jwt_max_lifetime, service_tokens, stream_replicas
from servicekit.tracing import TracingSettings, tracing_settings


@dataclass(frozen=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8010
    index_url: str = "http://127.0.0.1:8006"
    jwt_secret: str
    jwks_url: str | None = None  # an identity provider's keys: its RS256/ES256 tokens are accepted too
    jwt_issuer: str | None = None  # required `iss` of the provider's tokens (required with jwks_url)
    jwt_audience: str | None = None  # required `aud` of the provider's tokens (required with jwks_url)
    jwt_max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME_SECONDS  # a token valid for longer (exp - iat) is refused
    jwks_cache_seconds: float = 300.0
    jwks_refresh_cooldown_seconds: float = 30.0  # an unknown `kid` fetches the keys again at most this often
    service_token: str
    metrics_token: str  # the scrape token of /metrics (STUDIO_METRICS_TOKEN, else the service token)
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 32
    body_timeout_seconds: float = 10.0
    upstream_timeout_seconds: float = 5.0
    nats_url: str = "nats://127.0.0.1:4322"
    stream_replicas: int = 1
    tracing: TracingSettings = TracingSettings()
    source_timeout_seconds: float = 0.25
    source_timeout_ceiling_seconds: float = 2.0
    request_budget_seconds: float = 1.0
    cache_size: int = 10_000
    circuit_failures: int = 3
    circuit_cooldown_seconds: float = 5.0
    registry_ttl_seconds: float = 30.0
    pending_grace_seconds: float = 30.0
    ws_queue_size: int = 256
    ws_heartbeat_seconds: float = 20.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        jwks = env.string("STUDIO_JWKS_URL", "")
        if jwks:
            # A provider's key signs tokens for every application it serves: without its issuer and
            # this application's audience, any of them would open this API.
            for variable in ("STUDIO_JWT_ISSUER", "STUDIO_JWT_AUDIENCE"):
                if not env.string(variable, ""):
                    raise ConfigError(f"{variable} must be set when STUDIO_JWKS_URL is")
        service_token, metrics_token = service_tokens(env)
        return cls(
            host=env.string("STUDIO_GATEWAY_HOST", "127.0.0.1"),
            port=env.integer("STUDIO_GATEWAY_PORT", 8010, minimum=1, maximum=65535),
            index_url=env.url("STUDIO_INDEX_URL", "http://127.0.0.1:8006", schemes=("http", "https")),
            jwt_secret=env.required("STUDIO_JWT_SECRET", min_length=SECRET_MIN_LENGTH),
            jwks_url=env.url("STUDIO_JWKS_URL", jwks, schemes=("http", "https")) if jwks else None,
            jwt_issuer=env.string("STUDIO_JWT_ISSUER", "") or None,
            jwt_audience=env.string("STUDIO_JWT_AUDIENCE", "") or None,
            jwt_max_lifetime_seconds=jwt_max_lifetime(env),
            jwks_cache_seconds=env.number("STUDIO_JWKS_CACHE_SECONDS", 300.0, minimum=1.0),
            jwks_refresh_cooldown_seconds=env.number("STUDIO_JWKS_REFRESH_COOLDOWN_SECONDS", 30.0, minimum=0.0),
            service_token=service_token,
            metrics_token=metrics_token,
            max_body_bytes=env.integer("STUDIO_MAX_BODY_BYTES", 1024 * 1024, minimum=1024),
            max_json_depth=env.integer("STUDIO_MAX_JSON_DEPTH", 32, minimum=2, maximum=500),
            body_timeout_seconds=env.number("STUDIO_BODY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            upstream_timeout_seconds=env.number("STUDIO_UPSTREAM_TIMEOUT_SECONDS", 5.0, minimum=0.01),
            nats_url=env.url("STUDIO_NATS_URL", "nats://127.0.0.1:4322", schemes=("nats", "tls")),
            stream_replicas=stream_replicas(env),
            tracing=tracing_settings(env),
            source_timeout_seconds=env.number("STUDIO_GATEWAY_SOURCE_TIMEOUT_MS", 250.0, minimum=1.0) / 1000,
            source_timeout_ceiling_seconds=env.number("STUDIO_GATEWAY_SOURCE_TIMEOUT_CEILING_MS", 2000.0, minimum=1.0)
            / 1000,
            request_budget_seconds=env.number("STUDIO_GATEWAY_BUDGET_MS", 1000.0, minimum=1.0) / 1000,
            cache_size=env.integer("STUDIO_GATEWAY_CACHE_SIZE", 10_000, minimum=0),
            circuit_failures=env.integer("STUDIO_GATEWAY_CIRCUIT_FAILURES", 3, minimum=1),
            circuit_cooldown_seconds=env.number("STUDIO_GATEWAY_CIRCUIT_COOLDOWN_SECONDS", 5.0, minimum=0.01),
            registry_ttl_seconds=env.number("STUDIO_GATEWAY_REGISTRY_TTL_SECONDS", 30.0, minimum=0.0),
            pending_grace_seconds=env.number("STUDIO_GATEWAY_PENDING_GRACE_SECONDS", 30.0, minimum=1.0),
            ws_queue_size=env.integer("STUDIO_WS_QUEUE_SIZE", 256, minimum=1),
            ws_heartbeat_seconds=env.number("STUDIO_WS_HEARTBEAT_SECONDS", 20.0, minimum=0.5),
        )
