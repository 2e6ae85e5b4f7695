"""Every client route needs a user JWT; a path's `{uid}` must be the token's user."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from cachetools import LRUCache

from gateway.errors import UserNotFound
from gateway.identity import TokenVerifier
from gateway.routes.studio import is_studio
from servicekit.auth import PUBLIC_PATHS, bearer
from servicekit.errors import Unauthorized

DESCRIBED = frozenset({"/api/v1/openapi.json", "/api/v1/asyncapi.json"})  # what the API is, open to all
SOCKET_PATH = "/ws"
SOCKET_PROTOCOL = "studio"  # the subprotocol the socket speaks, offered beside `bearer.<token>`
TOKEN_PROTOCOL_PREFIX = "bearer."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER_KEY = web.RequestKey("user_id", str)
EXPIRES_KEY = web.RequestKey("token_expires", float)


class Authenticator:
    """Who a token is, and until when: verified once, then remembered (bounded) until it expires."""

    def __init__(self, verifier: TokenVerifier, *, remembered: int = 10_000) -> None:
        # Verifying a signature on every request costs more than serving a cached view; a token
        # already verified is remembered, and never past the moment it stops being accepted.
        self.verifier = verifier
        self.verified: LRUCache[str, tuple[str, float]] = LRUCache(maxsize=remembered)

    async def verify(self, token: str) -> tuple[str, float]:
        """(user id, the epoch second from which the token is refused); InvalidToken otherwise."""
        known = self.verified.get(token)
        if known is not None:
            if known[1] > time.time():
                return known
            self.verified.pop(token, None)
        found = await self.verifier.verify(token)
        self.verified[token] = found
        return found


def offered_protocols(request: web.Request) -> list[str]:
    """The subprotocols a WebSocket handshake offers (`Sec-WebSocket-Protocol`, every line of it)."""
    return [
        p.strip() for line in request.headers.getall("Sec-WebSocket-Protocol", []) for p in line.split(",") if p.strip()
    ]


def socket_token(request: web.Request) -> str | None:
    """The token of a socket's handshake, in this order: `Authorization: Bearer`, the subprotocol
    `bearer.<token>` offered beside `studio` (what browsers can send), `?token=` (older clients;
    the access log redacts it)."""
    found = bearer(request)
    if found:
        return found
    for protocol in offered_protocols(request):
        if protocol.startswith(TOKEN_PROTOCOL_PREFIX) and len(protocol) > len(TOKEN_PROTOCOL_PREFIX):
            return protocol[len(TOKEN_PROTOCOL_PREFIX) :]
    return request.query.get("token")


def auth_middleware(authenticator: Authenticator) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.path in DESCRIBED or is_studio(request.path):
            return await handler(request)
        # Browsers cannot set headers on a WebSocket handshake: /ws alone takes other forms.
        token = socket_token(request) if request.path == SOCKET_PATH else bearer(request)
        if token is None:
            raise Unauthorized("send Authorization: Bearer <token>")
        user_id, expires = await authenticator.verify(token)
        uid = request.match_info.get("uid")
        if uid is not None and uid != user_id:
            raise UserNotFound("nothing here for this token")
        request[USER_KEY] = user_id
        request[EXPIRES_KEY] = expires
        return await handler(request)

    return middleware


def current_user(request: web.Request) -> str:
    return request[USER_KEY]


def token_expiry(request: web.Request) -> float:
    """When the request's token stops being accepted (epoch seconds)."""
    return request[EXPIRES_KEY]
