"""An OpenID-style identity provider for the tests: an RSA key, its JWKS over HTTP, tokens it signs."""

from __future__ import annotations

import json
import time

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa


class IdentityProvider:
    """An OpenID-style provider for the tests: an RSA key, its JWKS over HTTP, tokens it signs."""

    issuer = "https://id.studio.test/"
    audience = "reyna-studio"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public = {
            **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key())),
            "kid": "test-1",
            "alg": "RS256",
            "use": "sig",
        }

    def app(self) -> web.Application:
        app = web.Application()

        async def jwks(request: web.Request) -> web.Response:
            return web.json_response({"keys": [self.public]})

        app.router.add_get("/jwks.json", jwks)
        return app

    def token(self, user_id: str, **claims: object) -> str:
        now = int(time.time())
        body = {"sub": user_id, "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "test-1"})
