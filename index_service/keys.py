"""Typed keys of everything the index service's app holds."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient

from .books import BookStore
from .failures import FailureStore
from .lane import ProcessorLane
from .outbox import OutboxRelay
from .registry import ProcessorRegistry, SchemaRegistry
from .settings import Settings
from .store import BlobStore

SETTINGS = web.AppKey("settings", Settings)
MONGO = web.AppKey("mongo", AsyncMongoClient[dict[str, Any]])
NATS = web.AppKey("nats", NatsClient)
RELAY = web.AppKey("relay", OutboxRelay)
BLOBS = web.AppKey("blobs", BlobStore)
BOOKS = web.AppKey("books", BookStore)
SCHEMAS = web.AppKey("schemas", SchemaRegistry)
PROCESSORS = web.AppKey("processors", ProcessorRegistry)
FAILURES = web.AppKey("failures", FailureStore)
PROCESSOR_LANE = web.AppKey("processor_lane", ProcessorLane)
