"""What answers say about themselves, on every service: never the server's software; `nosniff`;
`no-store` unless an answer says how it may be kept; a 401 names its scheme; `/metrics` only
with the scrape token, health for anyone; the studio's page policy allows only its own socket."""

from __future__ import annotations

import asyncio

import aiohttp

from servicekit.auth import issue_token
from studio_testing.harness import Stack
from studio_testing.payloads import draft

SERVICES = ("index", "gateway", "text_expansion", "book_compiler", "pitch_builder", "summary")


def assert_plain(response: aiohttp.ClientResponse, where: str) -> None:
    assert "Server" not in response.headers, (where, response.headers.get("Server"))
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where


async def test_every_service_keeps_its_metrics_to_the_scrape_token_and_names_no_software(stack: Stack) -> None:
    service = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession() as session:
        for name in SERVICES:
            base = f"http://127.0.0.1:{stack.ports[name]}"
            async with session.get(base + "/healthz") as response:
                assert response.status == 200, name
                assert_plain(response, name)
                assert response.headers["Cache-Control"] == "no-store"
            async with session.get(base + "/metrics") as response:
                assert (response.status, response.headers["WWW-Authenticate"]) == (401, "Bearer"), name
                assert_plain(response, name)
            async with session.get(base + "/metrics", headers={"Authorization": "Bearer " + "x" * 40}) as response:
                assert (response.status, response.headers["WWW-Authenticate"]) == (
                    401,
                    'Bearer error="invalid_token"',
                ), name
            async with session.get(base + "/metrics", headers=stack.metrics_headers) as response:
                assert response.status == 200 and "studio_http_requests_total" in await response.text(), name
                assert response.headers["Cache-Control"] == "no-store"
            if name == "gateway":
                continue
            # An internal route, answered (a 404 of a blob nobody has) with the service token.
            path = ("/api/v1" if name == "index" else "") + "/blobs/nobody-has-this?user_id=nobody"
            async with session.get(base + path, headers=service) as response:
                assert response.status == 404, (name, await response.text())
                assert_plain(response, name)
                assert response.headers["Cache-Control"] == "no-store", name
            async with session.get(base + path) as response:
                assert (response.status, response.headers["WWW-Authenticate"]) == (401, "Bearer"), name


async def test_authenticated_answers_are_not_stored_and_a_refused_token_is_named(
    stack: Stack, api: aiohttp.ClientSession, user_id: str
) -> None:
    async with api.post(
        "/api/v1/blobs", json=draft("headers", 1, "A chapter whose answers must not be kept by any cache.")
    ) as response:
        assert response.status == 201
        assert_plain(response, "POST /api/v1/blobs")
        assert response.headers["Cache-Control"] == "no-store"
    for path in (
        f"/api/v1/users/{user_id}/books",
        f"/api/v1/users/{user_id}/books/headers",
        f"/api/v1/users/{user_id}/state",
    ):
        async with api.get(path) as response:
            assert response.status == 200, path
            assert_plain(response, path)
            assert response.headers["Cache-Control"] == "no-store", path
    async with aiohttp.ClientSession(base_url=stack.gateway) as anonymous:
        async with anonymous.get(f"/api/v1/users/{user_id}/books") as response:
            assert (response.status, response.headers["WWW-Authenticate"]) == (401, "Bearer")
            assert_plain(response, "401")
        forged = {"Authorization": f"Bearer {issue_token('f' * 32, user_id)}"}
        async with anonymous.get(f"/api/v1/users/{user_id}/books", headers=forged) as response:
            assert (response.status, response.headers["WWW-Authenticate"]) == (401, 'Bearer error="invalid_token"')
        # The studio's files keep their own caching, and its page lets scripts reach only its own origin.
        async with anonymous.get("/") as response:
            assert response.status == 200
            assert_plain(response, "/")
            assert response.headers["Cache-Control"] == "no-cache"
            policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
            assert policy["connect-src"] == "'self'"
        async with anonymous.get("/api/v1/openapi.json") as response:
            assert_plain(response, "openapi")


async def test_even_a_request_no_parser_can_read_names_no_software(stack: Stack) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.ports["gateway"])
    writer.write(b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0], head
    assert b"aiohttp" not in head and b"Python" not in head, head
