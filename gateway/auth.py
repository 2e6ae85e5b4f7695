"""Every client route needs a user JWT; a path's `{uid}` must be the token's user."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from cachetools import LRUCache

from servicekit.auth import PUBLIC_PATHS, bearer
from servicekit.errors import Unauthorized

from .errors import UserNotFound
from .identity import TokenVerifier
from .studio import is_studio

DESCRIBED = frozenset({"/api/v1/openapi.json", "/api/v1/asyncapi.json"})  # what the API is, open to all

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER_KEY = "user_id"


def auth_middleware(verifier: TokenVerifier, *, remembered: int = 10_000) -> Middleware:
    # Verifying a signature on every request costs more than serving a cached view; a token
    # already verified is remembered (bounded), and its expiry is still checked each time.
    verified: LRUCache[str, tuple[str, float]] = LRUCache(maxsize=remembered)

    async def user_of(token: str) -> str:
        known = verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        user_id, expires = await verifier.verify(token)
        verified[token] = (user_id, expires)
        return user_id

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.path in DESCRIBED or is_studio(request.path):
            return await handler(request)
        # Browsers cannot set headers on a WebSocket handshake: /ws alone may take ?token=.
        token = bearer(request) or (request.query.get("token") if request.path == "/ws" else None)
        if token is None:
            raise Unauthorized("send Authorization: Bearer <token>")
        user_id = await user_of(token)
        uid = request.match_info.get("uid")
        if uid is not None and uid != user_id:
            raise UserNotFound("nothing here for this token")
        request[USER_KEY] = user_id
        return await handler(request)

    return middleware


def current_user(request: web.Request) -> str:
    return str(request[USER_KEY])
