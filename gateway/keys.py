"""Typed keys of everything the gateway's app holds."""

from __future__ import annotations

from aiohttp import ClientSession, web

from .aggregate import Aggregator
from .auth import Authenticator
from .cache import ViewCache
from .live import LiveEvents
from .metrics import GatewayMetrics
from .progress import ProgressFeed
from .registry import Directory
from .settings import Settings
from .upstream import Upstream
from .ws import Hub

SETTINGS = web.AppKey("settings", Settings)
SESSION = web.AppKey("session", ClientSession)
INDEX = web.AppKey("index", Upstream)
AGGREGATOR = web.AppKey("aggregator", Aggregator)
CACHE = web.AppKey("cache", ViewCache)
HUB = web.AppKey("hub", Hub)
LIVE = web.AppKey("live", LiveEvents)
GATEWAY_METRICS = web.AppKey("gateway_metrics", GatewayMetrics)
PROGRESS = web.AppKey("progress", ProgressFeed)
DIRECTORY = web.AppKey("directory", Directory)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
