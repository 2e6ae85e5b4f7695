"""Run a service process: settings from the environment, logging, graceful SIGTERM."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .settings import ConfigError

ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs rid=%{X-Request-Id}o'


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
        access_log_format=ACCESS_LOG_FORMAT,
        print=None,
        shutdown_timeout=5.0,
    )
