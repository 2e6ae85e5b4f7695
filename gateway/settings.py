"""The gateway's configuration, read once from `STUDIO_*` variables (declared here, each once)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.service_settings import LOCAL_INDEX_URL, ServiceSettings, TokenLifetime
from servicekit.settings import ConfigError, load, setting

HTTP = ("http", "https")


@dataclass(frozen=True, kw_only=True)
class Settings(TokenLifetime, ServiceSettings):  # the shared block's fields first
    host: str = setting("STUDIO_GATEWAY_HOST", "127.0.0.1", "the address the gateway listens on")
    port: int = setting("STUDIO_GATEWAY_PORT", 8010, "its port", minimum=1, maximum=65535)
    index_url: str = setting("STUDIO_INDEX_URL", LOCAL_INDEX_URL, "the index service", schemes=HTTP)
    jwt_secret: str = setting("STUDIO_JWT_SECRET", doc="the HS256 key of the studio's own tokens", secret=True)
    jwks_url: str | None = setting(
        "STUDIO_JWKS_URL", None, "an identity provider's keys: its RS256/ES256 tokens are accepted too", schemes=HTTP
    )
    jwt_issuer: str | None = setting("STUDIO_JWT_ISSUER", None, "the `iss` the provider's tokens must carry")
    jwt_audience: str | None = setting("STUDIO_JWT_AUDIENCE", None, "the `aud` the provider's tokens must carry")
    jwks_cache_seconds: float = setting(
        "STUDIO_JWKS_CACHE_SECONDS", 300.0, "how long the provider's keys are kept", minimum=1.0, unit="s"
    )
    jwks_refresh_cooldown_seconds: float = setting(
        "STUDIO_JWKS_REFRESH_COOLDOWN_SECONDS",
        30.0,
        "an unknown `kid` fetches the keys again at most this often",
        minimum=0.0,
        unit="s",
    )
    upstream_timeout_seconds: float = setting(
        "STUDIO_UPSTREAM_TIMEOUT_SECONDS", 5.0, "a relayed call's deadline (a write, a file)", minimum=0.01, unit="s"
    )
    source_timeout_seconds: float = setting(
        "STUDIO_GATEWAY_SOURCE_TIMEOUT_SECONDS",
        0.25,
        "a store read's deadline from its send, at least (it adapts to the store's latency)",
        minimum=0.001,
        unit="s",
    )
    source_timeout_ceiling_seconds: float = setting(
        "STUDIO_GATEWAY_SOURCE_TIMEOUT_CEILING_SECONDS", 2.0, "... and at most", minimum=0.001, unit="s"
    )
    request_budget_seconds: float = setting(
        "STUDIO_GATEWAY_BUDGET_SECONDS",
        1.0,
        "a view's whole budget; a read waits for a free slot at most this long",
        minimum=0.001,
        unit="s",
    )
    cache_size: int = setting("STUDIO_GATEWAY_CACHE_SIZE", 10_000, "views kept in memory", minimum=0)
    circuit_failures: int = setting(
        "STUDIO_GATEWAY_CIRCUIT_FAILURES", 3, "failures in a row that open a store's circuit", minimum=1
    )
    circuit_cooldown_seconds: float = setting(
        "STUDIO_GATEWAY_CIRCUIT_COOLDOWN_SECONDS", 5.0, "how long an open circuit waits to try", minimum=0.01, unit="s"
    )
    registry_ttl_seconds: float = setting(
        "STUDIO_GATEWAY_REGISTRY_TTL_SECONDS", 30.0, "how long the processor registry is kept", minimum=0.0, unit="s"
    )
    pending_grace_seconds: float = setting(
        "STUDIO_GATEWAY_PENDING_GRACE_SECONDS",
        30.0,
        "a chapter pending longer is asked of its processor again",
        minimum=1.0,
        unit="s",
    )
    ws_queue_size: int = setting(
        "STUDIO_WS_QUEUE_SIZE", 256, "messages a slow socket may fall behind before it is closed", minimum=1
    )
    ws_heartbeat_seconds: float = setting(
        "STUDIO_WS_HEARTBEAT_SECONDS", 20.0, "a socket's ping interval", minimum=0.5, unit="s"
    )

    def __post_init__(self) -> None:
        if self.jwks_url and not (self.jwt_issuer and self.jwt_audience):
            # A provider's key signs tokens for every application it serves: without its issuer and
            # this application's audience, any of them would open this API.
            missing = "STUDIO_JWT_ISSUER" if not self.jwt_issuer else "STUDIO_JWT_AUDIENCE"
            raise ConfigError(f"{missing} must be set when STUDIO_JWKS_URL is")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return load(cls, environ)
