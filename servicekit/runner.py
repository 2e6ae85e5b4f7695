"""Run a service process: settings from the environment, logging, graceful SIGTERM."""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web, web_response
from aiohttp.abc import AbstractAccessLogger

from .settings import ConfigError

# A signed JWT anywhere in a request target: its header and claims are base64url JSON objects.
JWT_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
SECRET_PARAMETERS = (
    "token",
    "secret",
    "password",
    "key",
    "jwt",
)  # a query parameter whose name holds one is a credential
REDACTED = "[redacted]"


def redacted_target(target: str) -> str:
    """A request target fit for a log: the value of every credential-like query parameter
    (`?token=`, `access_token`, `api_key`, ...) and any JWT anywhere replaced by `[redacted]`."""
    path, mark, query = target.partition("?")
    if mark:
        pairs = []
        for pair in query.split("&"):
            name, equals, _ = pair.partition("=")
            if equals and any(word in unquote_plus(name).lower() for word in SECRET_PARAMETERS):
                pair = f"{name}={REDACTED}"
            pairs.append(pair)
        target = path + "?" + "&".join(pairs)
    return JWT_TEXT.sub(REDACTED, target)


# In free text (a traceback quoting a request line, a URL with its password): `token=...`,
# `password=...` and the like, and the password of a `scheme://user:password@host` URL.
SECRET_PAIR = re.compile(r"(?i)([A-Za-z0-9_]*(?:token|secret|password)[A-Za-z0-9_]*=)[^&\s'\"]+")
URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@")
SECRET_FIELDS = ("token", "secret", "password", "key")  # a setting whose name holds one is a secret


def redacted_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every JWT, credential-like `name=value`, URL password and known secret replaced."""
    text = JWT_TEXT.sub(REDACTED, text)
    text = SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    text = URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def secrets_of(settings: object) -> list[str]:
    """The values of every secret setting (`*_token`, `*_secret`, `*_password`, `*_key`), nested
    settings included, longest first."""
    found: set[str] = set()
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        for field in dataclasses.fields(settings):
            value = getattr(settings, field.name)
            if isinstance(value, str) and len(value) >= 8 and any(word in field.name for word in SECRET_FIELDS):
                found.add(value)
            elif dataclasses.is_dataclass(value):
                found.update(secrets_of(value))
    return sorted(found, key=len, reverse=True)


class RedactingFormatter(logging.Formatter):
    """Every line a service logs, tracebacks included, passes through `redacted_text`: whatever
    reaches a log (a request line quoted by the HTTP parser's error, a database URL in an
    exception), no token, secret or password does."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self.secrets: list[str] = []

    def format(self, record: logging.LogRecord) -> str:
        return redacted_text(super().format(record), self.secrets)


class AccessLog(AbstractAccessLogger):
    """`<client> "<method> <target> HTTP/<v>" <status> <bytes> <seconds>s rid=<request id>`, the
    target redacted: a token in a URL (`/ws?token=`) never reaches a log."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        version = request.version
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.6fs rid=%s',
            request.remote or "-",
            request.method,
            redacted_target(request.raw_path),
            version.major,
            version.minor,
            response.status,
            response.body_length,
            time,
            response.headers.get("X-Request-Id", "-"),
        )


def serve(name: str, load: Callable[[], Any], factory: Callable[[Any], web.Application]) -> None:
    """Read settings (exit 2 with the reason if they are bad) and serve until SIGTERM or SIGINT."""
    formatter = RedactingFormatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # aiohttp names itself and its version in a `Server` header. `answer_headers` drops it from
    # every answer the app makes; the plain 400 its HTTP parser sends for a request it cannot
    # parse is made outside the app, where only this default reaches.
    web_response.SERVER_SOFTWARE = "studio"
    try:
        settings = load()
    except ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    formatter.secrets = secrets_of(settings)
    web.run_app(
        factory(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLog,
        print=None,
        shutdown_timeout=5.0,
    )
