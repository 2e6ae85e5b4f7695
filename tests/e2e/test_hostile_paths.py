"""Path and query injection, tried on every route of every service as a user with two accounts would.

bob holds a token of his own and knows alice's ids. Each trick (an encoded `/`, `?`, `#`, `..`,
NUL, double encoding, overlong ids, unicode look-alikes) goes into each path parameter of each
route in turn; none may read or change anything of alice's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from gateway.routes.blobs import routes as gateway_routes
from gateway.routes.compiled import routes as compiled_routes
from gateway.routes.pitches import routes as pitch_routes
from gateway.routes.sections import routes as section_routes
from gateway.routes.socket import routes as socket_routes
from gateway.routes.views import routes as view_routes
from index_service.routes import routes as index_routes
from processors.book_compiler.processor import BookCompiler
from processors.pitch_builder.processor import PitchBuilderProcessor
from processors.runtime.routes import routes as processor_routes
from processors.text_expansion.processor import TextExpansion
from servicekit.auth import issue_token
from studio_testing.harness import Stack
from studio_testing.payloads import draft, token_for

PARAM = re.compile(r"\{(\w+)\}")
REFUSED = {400, 401, 404, 405, 413, 415, 422}
SECRET_TITLE = "Alice Secret Title"


def tricks(alice: str, blob: str, book: str) -> list[str]:
    """Raw (already percent-encoded) path segments an attacker would try."""
    return [
        f"..%2Fusers%2F{alice}%2Fblobs",
        f"..%2F..%2F{alice}%2Fbooks%2F{book}",
        f"%2E%2E%2Fusers%2F{alice}%2Fstate",
        f"..%2Fblob-index%3Fuser_id%3D{alice}",
        f"{blob}%3Fuser_id%3D{alice}",
        f"{book}%3Fuser_id%3D{alice}",
        f"{blob}%23fragment",
        f"{blob}%00",
        f"{alice}%00",
        f"..%252F..%252F{alice}",
        f"{alice}%2F..%2F{alice}",
        f"{blob}%0A",
        f"%20{blob}",
        "x" * 129,
        "9" * 400,
        quote(blob[:4] + "\u0430" + blob[5:]),  # a Cyrillic 'a' among ASCII
        quote("\uff41" + alice[1:]),  # a fullwidth letter
        "..",
        ".",
    ]


def route_table() -> dict[str, list[tuple[str, str]]]:
    """(method, path template) of every route with a path parameter, per service."""

    def of(*tables: Any) -> list[tuple[str, str]]:
        found = []
        for table in tables:
            for route in table:
                assert isinstance(route, web.RouteDef)
                if PARAM.search(route.path) and route.method != "HEAD":
                    found.append((route.method, route.path))
        return found

    extras = [
        *BookCompiler(None, None).extra_routes(),  # type: ignore[arg-type]
        *PitchBuilderProcessor(None, None, None).extra_routes(),  # type: ignore[arg-type]
        *TextExpansion(None, None).extra_routes(),  # type: ignore[arg-type]
    ]
    return {
        "gateway": of(gateway_routes, view_routes, socket_routes, compiled_routes, pitch_routes, section_routes),
        "index": of(index_routes),
        "text_expansion": of(processor_routes, extras),
        "book_compiler": of(processor_routes, extras),
        "pitch_builder": of(processor_routes, extras),
    }


def urls(template: str, valid: dict[str, str], trick_list: list[str]) -> Iterator[str]:
    """The template with one parameter at a time replaced by each trick, the others valid."""
    names = PARAM.findall(template)
    for name in names:
        for trick in trick_list:
            path = template
            for other in names:
                path = path.replace("{" + other + "}", trick if other == name else quote(valid[other], safe=""))
            yield path


BODIES: dict[str, Any] = {"PUT": {"data": {"content": "overwritten by bob"}}, "POST": {}}


async def send(session: aiohttp.ClientSession, method: str, url: str, token: str) -> tuple[int, str]:
    body = BODIES.get(method)
    async with session.request(
        method, URL(url, encoded=True), json=body, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
    ) as response:
        return response.status, await response.text()


@pytest.fixture
async def alice_world(stack: Stack, other_api: aiohttp.ClientSession, other_user_id: str) -> dict[str, str]:
    """alice (the other user) owns a titled book with a chapter draft."""
    book = "alice-novel"
    async with other_api.post(
        f"/api/v1/users/{other_user_id}/books", json={"id": book, "title": SECRET_TITLE}
    ) as response:
        assert response.status == 201, await response.text()
    async with other_api.post("/api/v1/blobs", json=draft(book, 1, content="Alice's private chapter.")) as response:
        assert response.status == 201, await response.text()
        blob = (await response.json())["id"]
    return {"user": other_user_id, "blob": blob, "book": book}


async def test_no_trick_in_any_path_reaches_another_users_data(
    stack: Stack,
    api: aiohttp.ClientSession,
    user_id: str,
    other_api: aiohttp.ClientSession,
    alice_world: dict[str, str],
) -> None:
    alice, alice_blob, alice_book = alice_world["user"], alice_world["blob"], alice_world["book"]
    async with api.post("/api/v1/blobs", json=draft("bob-book", 1)) as response:
        bob_blob = (await response.json())["id"]
    trick_list = tricks(alice, alice_blob, alice_book)
    bob_token = token_for(stack, user_id)
    service_token = stack.secrets["service_token"]
    valid = {
        "uid": user_id,
        "blob_id": bob_blob,
        "book_id": "bob-book",
        "schema_id": "text-input-v1",
        "processor_id": "text-expansion",
        "a": "1",
        "b": "1",
        "section_id": "0123456789abcdef01234567",
    }
    bases = {
        "gateway": stack.gateway,
        "index": stack.index,
        "text_expansion": stack.text_expansion,
        "book_compiler": stack.book_compiler,
        "pitch_builder": stack.pitch_builder,
    }
    tried = 0
    async with aiohttp.ClientSession() as session:
        for service, table in route_table().items():
            token = bob_token if service == "gateway" else service_token
            # Internal services are told the user in the query, as the gateway tells them.
            query = "" if service == "gateway" else f"?user_id={user_id}"
            for method, template in table:
                for path in urls(template, valid, trick_list):
                    status, text = await send(session, method, bases[service] + path + query, token)
                    tried += 1
                    where = f"{service} {method} {path}{query}"
                    assert status in REFUSED, f"{where} -> {status}: {text[:300]}"
                    assert alice_blob not in text and SECRET_TITLE not in text, f"{where} leaked alice's data"
                    assert "problem" in text or status == 405, where
    assert tried > 500
    # alice's draft, book and lack of compiled versions are as she left them.
    async with other_api.get(f"/api/v1/blobs/{alice_blob}") as response:
        blob = await response.json()
        assert response.status == 200 and blob["version"] == 1 and blob["data"]["content"] == "Alice's private chapter."
    async with other_api.get(f"/api/v1/users/{alice}/books") as response:
        (book,) = (await response.json())["books"]
        assert book["title"] == SECRET_TITLE and book["compiled_version"] is None


async def test_the_reported_attacks_are_refused(
    stack: Stack,
    api: aiohttp.ClientSession,
    user_id: str,
    other_api: aiohttp.ClientSession,
    alice_world: dict[str, str],
) -> None:
    alice, alice_blob, book = alice_world["user"], alice_world["blob"], alice_world["book"]
    token = token_for(stack, user_id)
    async with aiohttp.ClientSession() as session:
        for method, path in [
            ("GET", f"/api/v1/blobs/..%2Fusers%2F{alice}%2Fblobs"),
            ("GET", f"/api/v1/blobs/%2E%2E%2Fusers%2F{alice}%2Fbooks"),
            ("GET", f"/api/v1/blobs/..%2Fblob-index%3Fuser_id%3D{alice}"),
            ("GET", f"/api/v1/blobs/{alice_blob}%3Fuser_id%3D{alice}"),
            ("DELETE", f"/api/v1/blobs/{alice_blob}%3Fuser_id%3D{alice}"),
            ("POST", f"/api/v1/users/{user_id}/books/..%2F..%2F{alice}%2Fbooks%2F{book}/compile"),
            ("GET", f"/api/v1/users/{user_id}/books/..%2F..%2F{alice}%2Fbooks%2F{book}"),
        ]:
            status, text = await send(session, method, stack.gateway + path, token)
            assert status == 404, f"{method} {path} -> {status} {text[:200]}"
        # A correctly signed token whose subject is not a user id is refused outright.
        crafted = issue_token(stack.secrets["jwt_secret"], f"{user_id}/../{alice}")
        status, _ = await send(session, "GET", stack.gateway + f"/api/v1/users/{user_id}%2F..%2F{alice}/books", crafted)
        assert status == 401
    async with other_api.get(f"/api/v1/blobs/{alice_blob}") as response:
        assert response.status == 200


async def test_a_repeated_or_conflicting_query_parameter_is_400(
    stack: Stack, api: aiohttp.ClientSession, user_id: str, alice_world: dict[str, str], internal: aiohttp.ClientSession
) -> None:
    alice, alice_blob = alice_world["user"], alice_world["blob"]
    async with api.get(f"/api/v1/users/{user_id}/blobs?book_id=a&book_id=b") as response:
        assert response.status == 400 and (await response.json())["type"].endswith("repeated-parameter")
    # The index trusts the user the gateway names, once: a second user_id is refused, not read first.
    async with internal.get(f"/api/v1/blobs/{alice_blob}?user_id={alice}&user_id={user_id}") as response:
        assert response.status == 400
    async with internal.delete(f"/api/v1/blobs/{alice_blob}?user_id={user_id}&user_id={alice}") as response:
        assert response.status == 400
    async with internal.get(f"/api/v1/users/{user_id}/blobs?user_id={alice}") as response:
        assert response.status == 400
    async with internal.get(f"/api/v1/blob-index?user_id={alice}%2F..") as response:
        assert response.status == 400
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{stack.text_expansion}/users/{user_id}/blobs?user_id={alice}") as response:
            assert response.status == 400
        async with session.post(
            f"{stack.text_expansion}/blobs/batch", json={"user_id": user_id, "ids": ["../x"]}
        ) as response:
            assert response.status == 422
    async with internal.get(f"/api/v1/blobs/{alice_blob}", params={"user_id": alice}) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/users/{uid}/blobs?limit=99999999999999999999999", 422),
        ("/api/v1/users/{uid}/blobs?limit=-1", 422),
        ("/api/v1/users/{uid}/blobs?limit=%D9%A1", 422),  # an Arabic-Indic digit one
        ("/api/v1/users/{uid}/blobs?cursor=%00", 422),
        ("/ws?last_event_id=99999999999999999999999999", 422),
        ("/ws?last_progress_id=99999999999999999999999999", 422),
        ("/ws?last_progress_id=-1", 422),
        ("/ws?last_progress_id=1&last_progress_id=2", 400),  # said twice: which one was meant?
        ("/ws?last_progress_id=%00", 422),
    ],
)
async def test_odd_numbers_in_queries_are_refused_exactly(stack: Stack, user_id: str, path: str, expected: int) -> None:
    async with aiohttp.ClientSession() as session:
        status, _ = await send(
            session, "GET", stack.gateway + path.replace("{uid}", user_id), token_for(stack, user_id)
        )
    assert status == expected
