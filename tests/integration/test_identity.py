"""Tokens from an identity provider: RS256 and ES256 checked against its JWKS served over HTTP,
keys cached, a rotated key followed, `iss`, `aud`, `exp` and `nbf` checked; the stack's own
HS256 tokens still accepted, with no clock leeway; no token valid for longer than allowed; a
remembered token never outlives its expiry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth import Authenticator
from gateway.identity import TokenVerifier
from servicekit.auth import issue_token
from servicekit.errors import Unauthorized
from studio_testing.harness import free_port

SECRET = "s" * 40
ISSUER, AUDIENCE = "https://id.example.test/", "reyna-studio"


class Provider:
    """A JWKS endpoint whose keys can be rotated, counting how often it is asked."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetched = 0

    def add(self, kid: str, key: Any, algorithm: str) -> None:
        public = json.loads(jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(key.public_key()))
        self.keys[kid] = (key, {**public, "kid": kid, "alg": algorithm, "use": "sig"})

    def token(self, kid: str, **claims: Any) -> str:
        key, public = self.keys[kid]
        now = int(time.time())
        body = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None}, key, algorithm=public["alg"], headers={"kid": kid}
        )

    async def jwks(self, request: web.Request) -> web.Response:
        self.fetched += 1
        return web.json_response({"keys": [public for _, public in self.keys.values()]})


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    found = Provider()
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", found.jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield found, f"http://127.0.0.1:{port}/.well-known/jwks.json"
    await runner.cleanup()


async def test_provider_tokens_are_verified_and_a_rotated_key_is_followed(provider: tuple[Provider, str]) -> None:
    keys, url = provider
    keys.add("k1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    verifier = TokenVerifier(SECRET, jwks_url=url, issuer=ISSUER, audience=AUDIENCE, jwks_refresh_cooldown_seconds=0.2)
    assert (await verifier.verify(keys.token("k1")))[0] == "alice"
    assert (await verifier.verify(keys.token("k1", sub="bob")))[0] == "bob"
    assert keys.fetched == 1, "the keys are cached"
    # The provider rotates to an elliptic-curve key: a token naming it makes the set be fetched again.
    keys.add("k2", ec.generate_private_key(ec.SECP256R1()), "ES256")
    del keys.keys["k1"]
    await asyncio.sleep(0.3)  # past the cool-down that bounds how often an unknown `kid` fetches the set
    assert (await verifier.verify(keys.token("k2")))[0] == "alice"
    assert keys.fetched == 2
    # The stack's own tokens keep working beside the provider's.
    assert (await verifier.verify(issue_token(SECRET, "carol")))[0] == "carol"


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "https://elsewhere.test/"}, "(?i)issuer"),
        ({"aud": "another-app"}, "(?i)audience"),
        ({"aud": None}, "aud"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"sub": "../alice"}, "subject"),
    ],
)
async def test_provider_tokens_with_the_wrong_claims_are_refused(
    provider: tuple[Provider, str], claims: dict[str, Any], why: str
) -> None:
    keys, url = provider
    keys.add("k1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    verifier = TokenVerifier(SECRET, jwks_url=url, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(Unauthorized, match=why):
        await verifier.verify(keys.token("k1", **claims))


async def test_forged_unsigned_and_unknown_key_tokens_are_refused(provider: tuple[Provider, str]) -> None:
    keys, url = provider
    keys.add("k1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    verifier = TokenVerifier(SECRET, jwks_url=url, issuer=ISSUER, audience=AUDIENCE)
    stranger = Provider()
    stranger.add("k1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    with pytest.raises(Unauthorized):
        await verifier.verify(stranger.token("k1"))  # same kid, another key: the signature fails
    stranger.add("k9", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    with pytest.raises(Unauthorized, match="no key"):
        await verifier.verify(stranger.token("k9"))
    unsigned = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(Unauthorized, match="not accepted"):
        await verifier.verify(unsigned)
    with pytest.raises(Unauthorized, match="not accepted"):
        await TokenVerifier(SECRET).verify(keys.token("k1"))  # no provider configured: RS256 is refused


async def test_only_a_providers_clock_gets_leeway_and_no_token_lives_past_the_longest_lifetime(
    provider: tuple[Provider, str],
) -> None:
    keys, url = provider
    keys.add("k1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    verifier = TokenVerifier(SECRET, jwks_url=url, issuer=ISSUER, audience=AUDIENCE, max_lifetime_seconds=3600)
    now = int(time.time())
    # A provider's token 5 s past its exp is still taken (its clock may run ahead), until exp + 30 s.
    user, until = await verifier.verify(keys.token("k1", iat=now - 600, exp=now - 5))
    assert user == "alice" and until == now - 5 + 30
    # The stack's own token 5 s past its exp is not: this clock made it.
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(issue_token(SECRET, "alice", ttl_seconds=60, now=now - 65))
    _, until = await verifier.verify(issue_token(SECRET, "alice", ttl_seconds=600, now=now))
    assert until == now + 600
    for token in (
        keys.token("k1", exp=now + 7200),
        issue_token(SECRET, "alice", ttl_seconds=7200),
        keys.token("k1", iat=None, exp=now + 7200),
    ):
        with pytest.raises(Unauthorized, match="longer than"):
            await verifier.verify(token)
    for claims in ({"exp": str(now + 60)}, {"nbf": True}, {"iat": "yesterday"}):
        with pytest.raises(Unauthorized, match="not a number"):
            await verifier.verify(keys.token("k1", **claims))


async def test_a_remembered_token_is_never_taken_past_its_expiry() -> None:
    authenticator = Authenticator(TokenVerifier(SECRET))
    token = issue_token(SECRET, "alice", ttl_seconds=2)
    user, expires = await authenticator.verify(token)
    assert user == "alice" and token in authenticator.verified
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(Unauthorized, match="expired"):
        await authenticator.verify(token)
    assert token not in authenticator.verified
