"""An identity provider's tokens at the gateway: accepted on REST and on the socket when they
verify against its JWKS, refused with a problem when they do not."""

from __future__ import annotations

import aiohttp

from studio_testing.harness import Stack
from studio_testing.identity_provider import IdentityProvider


async def test_provider_tokens_open_the_api_and_the_socket(
    stack: Stack, identity: tuple[IdentityProvider, str], user_id: str
) -> None:
    provider, _ = identity
    headers = {"Authorization": f"Bearer {provider.token(user_id)}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as session:
        async with session.post(
            f"/api/v1/users/{user_id}/books", json={"id": "oidc", "title": "Signed in elsewhere"}
        ) as response:
            assert response.status == 201, await response.text()
        async with session.get(f"/api/v1/users/{user_id}/books") as response:
            assert [b["book_id"] for b in (await response.json())["books"]] == ["oidc"]
        async with session.ws_connect("/ws", params={"token": provider.token(user_id)}) as ws:
            assert (await ws.receive_json())["type"] == "ready"


async def test_provider_tokens_with_the_wrong_claims_are_401(
    stack: Stack, identity: tuple[IdentityProvider, str], user_id: str
) -> None:
    provider, _ = identity
    for claims in ({"aud": "someone-else"}, {"iss": "https://other.test/"}, {"exp": 1}):
        headers = {"Authorization": f"Bearer {provider.token(user_id, **claims)}"}
        async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as session:
            async with session.get(f"/api/v1/users/{user_id}/books") as response:
                assert response.status == 401 and response.content_type == "application/problem+json", claims
