"""Who a bearer token says the user is: the stack's own HS256 tokens, and an identity provider's
RS256/ES256 tokens checked against its JWKS (keys cached, rotation followed by `kid`)."""

from __future__ import annotations

import asyncio

import jwt

from contracts.ids import ID_RULE, is_id
from servicekit.auth import DEFAULT_MAX_LIFETIME_SECONDS, JWT_ALGORITHM, InvalidToken, check_times

PROVIDER_ALGORITHMS = ("RS256", "ES256")
# Clocks differ a little between an identity provider and here; the stack's own tokens are made
# by this clock (`studio token`) and expire when they say.
LEEWAY_SECONDS = 30


class TokenVerifier:
    """`await verify(token)` -> (user id, the moment the token stops being accepted: its `exp`, plus
    the clock leeway for a provider's); InvalidToken for anything else."""

    def __init__(
        self,
        secret: str,
        *,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        jwks_cache_seconds: float = 300.0,
        jwks_refresh_cooldown_seconds: float = 30.0,
        max_lifetime_seconds: float = DEFAULT_MAX_LIFETIME_SECONDS,
    ) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.max_lifetime = max_lifetime_seconds
        # pyjwt's client caches the keys and fetches the set again when a token names a `kid` it
        # does not know (that is how a rotation is followed), at most once a cool-down, so that
        # tokens with made-up `kid`s cannot make the gateway hammer the provider.
        self.jwks = (
            jwt.PyJWKClient(
                jwks_url,
                cache_keys=True,
                lifespan=jwks_cache_seconds,
                timeout=5,
                cooldown_duration=jwks_refresh_cooldown_seconds,
            )
            if jwks_url
            else None
        )

    async def verify(self, token: str) -> tuple[str, float]:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from None
        if algorithm == JWT_ALGORITHM:
            return self._claims(token, self.secret, JWT_ALGORITHM, provider=False)
        if algorithm in PROVIDER_ALGORITHMS and self.jwks is not None:
            try:
                # The first sight of a key (or of a rotated one) fetches the set: not on the event loop.
                key = await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)
            except jwt.PyJWTError as exc:
                raise InvalidToken(f"no key of the identity provider verifies this token: {exc}") from None
            return self._claims(token, key.key, str(algorithm), provider=True)
        raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted here")

    def _claims(self, token: str, key: object, algorithm: str, *, provider: bool) -> tuple[str, float]:
        required = [
            "sub",
            "exp",
            *(["iss"] if provider and self.issuer else []),
            *(["aud"] if provider and self.audience else []),
        ]
        try:
            # Times are checked below (numbers only, the longest lifetime), not by pyjwt.
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                options={"require": required, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
                issuer=self.issuer if provider else None,
                audience=self.audience if provider else None,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from None
        leeway = LEEWAY_SECONDS if provider else 0
        expires = check_times(claims, leeway=leeway, max_lifetime=self.max_lifetime)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not is_id(subject):
            raise InvalidToken(f"the token's subject is not a valid user id ({ID_RULE})")
        return subject, expires + leeway
