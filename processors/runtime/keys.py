"""Typed keys of what a processor's app holds."""

from __future__ import annotations

from aiohttp import web
from nats.aio.client import Client as NatsClient

from .base import Processor
from .index_client import IndexClient
from .lifecycle import Lifecycle
from .settings import RuntimeSettings

PROCESSOR = web.AppKey("processor", Processor)
RUNTIME = web.AppKey("runtime_settings", RuntimeSettings)
NATS = web.AppKey("nats", NatsClient)
INDEX = web.AppKey("index_client", IndexClient)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
