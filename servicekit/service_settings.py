"""The settings every service reads alike: the broker, the service token, request limits, tracing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .auth import DEFAULT_MAX_LIFETIME_SECONDS
from .settings import Env, setting
from .tracing import TracingSettings

LOCAL_NATS_URL = "nats://127.0.0.1:4322"  # the one-machine stack's broker (compose/settings.py)
LOCAL_INDEX_URL = "http://127.0.0.1:8006"
LOCAL_MONGO_URL = "mongodb://127.0.0.1:27817/?directConnection=true&retryWrites=false"  # compose/backing.py


def _service_token(values: dict[str, Any], env: Env) -> str:
    return str(values["service_token"])


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The block every service shares; each service's settings class adds its own."""

    nats_url: str = setting(
        "STUDIO_NATS_URL", LOCAL_NATS_URL, "NATS: one URL, or a cluster's separated by commas", schemes=("nats", "tls")
    )
    stream_replicas: int = setting(
        "STUDIO_STREAM_REPLICAS", 1, "copies of each JetStream stream (3 on a three-node cluster)", minimum=1, maximum=5
    )
    service_token: str = setting(
        "STUDIO_SERVICE_TOKEN", doc="what services show each other on internal routes", secret=True
    )
    metrics_token: str = setting(
        "STUDIO_METRICS_TOKEN",
        doc="what a scraper shows on /metrics",
        secret=True,
        fallback=_service_token,
        shown_default="the service token",
    )
    max_body_bytes: int = setting(
        "STUDIO_MAX_BODY_BYTES", 1024 * 1024, "the largest request body", minimum=1024, unit="bytes"
    )
    max_json_depth: int = setting(
        "STUDIO_MAX_JSON_DEPTH", 32, "the deepest a request's JSON may nest", minimum=2, maximum=500
    )
    body_timeout_seconds: float = setting(
        "STUDIO_BODY_TIMEOUT_SECONDS", 10.0, "the longest a request body may take to arrive", minimum=0.1, unit="s"
    )
    tracing: TracingSettings = TracingSettings()


@dataclass(frozen=True, kw_only=True)
class TokenLifetime:
    """What the gateway accepts and what `studio token` issues."""

    jwt_max_lifetime_seconds: int = setting(
        "STUDIO_JWT_MAX_LIFETIME_SECONDS",
        DEFAULT_MAX_LIFETIME_SECONDS,
        "the longest a token may be valid (exp - iat)",
        minimum=60,
        maximum=366 * 24 * 3600,
        unit="s",
    )
