"""Typed keys of everything the gateway's app holds."""

from __future__ import annotations

from aiohttp import ClientSession, web


from .settings import Settings
from .upstream import Upstream

SETTINGS = web.AppKey("settings", Settings)
SESSION = web.AppKey("session", ClientSession)
INDEX = web.AppKey("index", Upstream)
