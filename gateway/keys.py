"""Typed keys of everything the gateway's app holds."""

from __future__ import annotations

from aiohttp import ClientSession, web

from gateway.auth import Authenticator
from gateway.fanout.aggregate import Aggregator
from gateway.fanout.cache import ViewCache
from gateway.fanout.registry import Directory
from gateway.live.events import LiveEvents
from gateway.live.hub import Hub
from gateway.live.progress import ProgressFeed
from gateway.metrics import GatewayMetrics
from gateway.routes.relay import Upstream
from gateway.settings import Settings

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
