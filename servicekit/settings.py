"""Read `STUDIO_*` variables once, failing clearly on a bad value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .auth import DEFAULT_MAX_LIFETIME_SECONDS

SECRET_MIN_LENGTH = 32  # the JWT secret, the service token and the scrape token


class ConfigError(ValueError):
    """A configuration variable holds a value the service cannot use."""


class Env:
    """Typed access to an environment mapping, with the variable named in every error."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def string(self, name: str, default: str) -> str:
        return self._environ.get(name, default)

    def required(self, name: str, *, min_length: int = 1) -> str:
        value = self._environ.get(name, "")
        if not value:
            raise ConfigError(f"{name} must be set")
        if len(value) < min_length:
            raise ConfigError(f"{name} must be at least {min_length} characters long")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an integer") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}={value} is outside {minimum}..{maximum}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if value < minimum:
            raise ConfigError(f"{name}={value} is below {minimum}")
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")

    def url(self, name: str, default: str, *, schemes: tuple[str, ...]) -> str:
        value = self._environ.get(name) or default
        if not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise ConfigError(f"{name}={value!r} must start with one of {', '.join(s + '://' for s in schemes)}")
        return value.rstrip("/")

    def path(self, name: str, default: str) -> Path:
        return Path(self._environ.get(name) or default).expanduser()


def data_dir(env: Env) -> Path:
    """Where the one-machine stack keeps its data: STUDIO_DATA_DIR, default `.data`."""
    return env.path("STUDIO_DATA_DIR", ".data").resolve()


def stream_replicas(env: Env) -> int:
    """STUDIO_STREAM_REPLICAS: copies of each JetStream stream (3 on a three-node cluster)."""
    return env.integer("STUDIO_STREAM_REPLICAS", 1, minimum=1, maximum=5)


def jwt_max_lifetime(env: Env) -> int:
    """STUDIO_JWT_MAX_LIFETIME_SECONDS: the longest a token may be valid (`exp - iat`, or `exp` -
    now without `iat`); what the gateway accepts and what `studio token` issues."""
    return env.integer(
        "STUDIO_JWT_MAX_LIFETIME_SECONDS", DEFAULT_MAX_LIFETIME_SECONDS, minimum=60, maximum=366 * 24 * 3600
    )


def service_tokens(env: Env) -> tuple[str, str]:
    """STUDIO_SERVICE_TOKEN (internal routes) and STUDIO_METRICS_TOKEN (`/metrics`; the service token
    when unset), each at least SECRET_MIN_LENGTH characters long."""
    service = env.required("STUDIO_SERVICE_TOKEN", min_length=SECRET_MIN_LENGTH)
    if not env.string("STUDIO_METRICS_TOKEN", ""):
        return service, service
    return service, env.required("STUDIO_METRICS_TOKEN", min_length=SECRET_MIN_LENGTH)
