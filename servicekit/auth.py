"""Service tokens for internal routes and HS256 JWTs for users."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterable

import jwt
from aiohttp import web
from aiohttp.typedefs import Middleware

from contracts.ids import ID_RULE, is_id

from .errors import Unauthorized

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
JWT_ALGORITHM = "HS256"


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def service_token_middleware(token: str, *, public: Iterable[str] = PUBLIC_PATHS) -> Middleware:
    """Refuse every request but the public ones unless it carries the service token."""
    expected = token.encode()
    open_paths = frozenset(public)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in open_paths:
            presented = bearer(request)
            if presented is None or not hmac.compare_digest(presented.encode(), expected):
                raise Unauthorized("internal route: the service token is required")
        return await handler(request)

    return middleware


def issue_token(secret: str, user_id: str, *, ttl_seconds: int = 7 * 24 * 3600, now: float | None = None) -> str:
    """A signed HS256 token whose subject is `user_id`."""
    issued = int(time.time() if now is None else now)
    return jwt.encode({"sub": user_id, "iat": issued, "exp": issued + ttl_seconds}, secret, algorithm=JWT_ALGORITHM)


def verify_token(secret: str, token: str) -> str:
    """The user id of a valid token; Unauthorized for a missing, forged or expired one."""
    return verify_claims(secret, token)[0]


def verify_claims(secret: str, token: str) -> tuple[str, float]:
    """The user id and expiry (epoch seconds) of a valid token; Unauthorized otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("the token names no user")
    if not is_id(subject):
        # A subject like `bob/../alice` would otherwise match a crafted `{uid}` in a path.
        raise Unauthorized(f"the token's subject is not a valid user id ({ID_RULE})")
    return subject, float(claims["exp"])
