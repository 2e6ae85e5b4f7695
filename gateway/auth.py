"""Every client route needs a user JWT; a path's `{uid}` must be the token's user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from servicekit.auth import PUBLIC_PATHS, bearer, verify_token
from servicekit.errors import Unauthorized

from .errors import UserNotFound

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER_KEY = "user_id"


def auth_middleware(secret: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        # Browsers cannot set headers on a WebSocket handshake: /ws alone may take ?token=.
        token = bearer(request) or (request.query.get("token") if request.path == "/ws" else None)
        if token is None:
            raise Unauthorized("send Authorization: Bearer <token>")
        user_id = verify_token(secret, token)
        uid = request.match_info.get("uid")
        if uid is not None and uid != user_id:
            raise UserNotFound(f"no user {uid} here")
        request[USER_KEY] = user_id
        return await handler(request)

    return middleware


def current_user(request: web.Request) -> str:
    return str(request[USER_KEY])
