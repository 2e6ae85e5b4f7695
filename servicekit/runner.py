"""Run a service process: settings from the environment, logging, graceful SIGTERM."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .settings import ConfigError

# A signed JWT anywhere in a request target: its header and claims are base64url JSON objects.
JWT_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
SECRET_PARAMETERS = ("token", "secret", "password", "key", "jwt")  # a query parameter whose name holds one is a credential
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


class AccessLog(AbstractAccessLogger):
    """`<client> "<method> <target> HTTP/<v>" <status> <bytes> <seconds>s rid=<request id>`, the
    target redacted: a token in a URL (`/ws?token=`) never reaches a log."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        version = request.version
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.6fs rid=%s',
            request.remote or "-", request.method, redacted_target(request.raw_path), version.major, version.minor,
            response.status, response.body_length, time, response.headers.get("X-Request-Id", "-"),
        )  # fmt: skip


def serve(name: str, load: Callable[[], Any], factory: Callable[[Any], web.Application]) -> None:
    """Read settings (exit 2 with the reason if they are bad) and serve until SIGTERM or SIGINT."""
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load()
    except ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    web.run_app(
        factory(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLog,
        print=None,
        shutdown_timeout=5.0,
    )
