"""Service tokens for internal routes and HS256 JWTs for users."""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import jwt
from aiohttp import web
from aiohttp.typedefs import Middleware

from contracts.ids import ID_RULE, is_id

from .errors import Unauthorized

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Not the business of a service's own authentication: health is public, and `service_app` guards
# the metrics with the scrape token (`metrics_guard`) before any other authentication runs.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
METRICS_PATH = "/metrics"
JWT_ALGORITHM = "HS256"
DEFAULT_MAX_LIFETIME_SECONDS = 30 * 24 * 3600  # the longest `exp - iat` accepted unless configured otherwise
TIME_CLAIMS = ("exp", "nbf", "iat")


class InvalidToken(Unauthorized):
    """A token was presented and refused (forged, expired, malformed): answered with
    `WWW-Authenticate: Bearer error="invalid_token"`."""


def challenge(exc: Unauthorized) -> str:
    """The `WWW-Authenticate` value of a 401 (RFC 6750 §3)."""
    return 'Bearer error="invalid_token"' if isinstance(exc, InvalidToken) else "Bearer"


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
            if presented is None:
                raise Unauthorized("internal route: the service token is required")
            if not hmac.compare_digest(presented.encode(), expected):
                raise InvalidToken("internal route: the service token is required")
        return await handler(request)

    return middleware


def metrics_guard(metrics_token: str) -> Middleware:
    """`/metrics` only with `Authorization: Bearer <metrics_token>` (the scrape token)."""
    expected = metrics_token.encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == METRICS_PATH:
            presented = bearer(request)
            if presented is None:
                raise Unauthorized("the metrics need the scrape token")
            if not hmac.compare_digest(presented.encode(), expected):
                raise InvalidToken("the metrics need the scrape token")
        return await handler(request)

    return middleware


def issue_token(secret: str, user_id: str, *, ttl_seconds: int = 7 * 24 * 3600, now: float | None = None) -> str:
    """A signed HS256 token whose subject is `user_id`."""
    issued = int(time.time() if now is None else now)
    return jwt.encode({"sub": user_id, "iat": issued, "exp": issued + ttl_seconds}, secret, algorithm=JWT_ALGORITHM)


def _time_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    # JSON numbers only: a string ("9999999999") or a boolean (`true` is 1 to Python) is refused.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidToken(f"the token's {name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidToken(f"the token's {name} is out of range") from None
    if not math.isfinite(number):
        raise InvalidToken(f"the token's {name} is out of range")
    return number


def check_times(claims: Mapping[str, Any], *, leeway: float, max_lifetime: float, now: float | None = None) -> float:
    """The token's `exp` once `exp`, `nbf` and `iat` are numbers, `exp` is not past, `nbf` and `iat`
    are not ahead (each within `leeway` seconds), and the token is not valid for longer than
    `max_lifetime` (from `iat`, or from now when it has none); InvalidToken otherwise."""
    current = time.time() if now is None else now
    expires = _time_claim(claims, "exp")
    not_before = _time_claim(claims, "nbf")
    issued = _time_claim(claims, "iat")
    if expires is None:
        raise InvalidToken("the token has no expiry (exp)")
    if expires <= current - leeway:
        raise InvalidToken("the token has expired")
    if not_before is not None and not_before > current + leeway:
        raise InvalidToken("the token is not valid yet (nbf)")
    if issued is not None and issued > current + leeway:
        raise InvalidToken("the token is issued in the future (iat)")
    if expires - (current if issued is None else issued) > max_lifetime:
        raise InvalidToken(f"the token is valid for longer than the {max_lifetime:.0f} s accepted here")
    return expires


def verify_token(secret: str, token: str) -> str:
    """The user id of a valid token; Unauthorized for a missing, forged or expired one."""
    return verify_claims(secret, token)[0]


def verify_claims(secret: str, token: str, *, max_lifetime: float = DEFAULT_MAX_LIFETIME_SECONDS) -> tuple[str, float]:
    """The user id and expiry (epoch seconds) of a valid token; Unauthorized otherwise. The
    stack's own tokens expire when they say: no leeway."""
    try:
        # Times are checked by `check_times`, not by pyjwt, which would take "9999999999" or `true` for a time.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid token: {exc}") from None
    expires = check_times(claims, leeway=0, max_lifetime=max_lifetime)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the token names no user")
    if not is_id(subject):
        # A subject like `bob/../alice` would otherwise match a crafted `{uid}` in a path.
        raise InvalidToken(f"the token's subject is not a valid user id ({ID_RULE})")
    return subject, expires
