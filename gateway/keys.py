"""Typed keys of everything the gateway's app holds."""

from __future__ import annotations

from aiohttp import ClientSession, web

from servicekit.bodies import BodyReader

from .settings import Settings
from .upstream import Upstream

SETTINGS = web.AppKey("settings", Settings)
BODIES = web.AppKey("bodies", BodyReader)
SESSION = web.AppKey("session", ClientSession)
INDEX = web.AppKey("index", Upstream)
