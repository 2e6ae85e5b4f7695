"""The API described: OpenAPI 3.1 and AsyncAPI 3 documents, generated, valid, and true to what
the gateway actually answers and sends."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from openapi_spec_validator import validate

from studio_testing.documents import MESSAGE_OF, checker
from studio_testing.harness import Stack
from studio_testing.payloads import draft, token_for
from studio_testing.waiting import eventually


async def fetch(session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(path) as response:
        assert response.status == 200, (path, await response.text())
        return await response.json()


async def test_the_openapi_document_is_valid_covers_every_route_and_matches_answers(
    stack: Stack, api: aiohttp.ClientSession, user_id: str
) -> None:
    async with aiohttp.ClientSession(base_url=stack.gateway) as anonymous:
        document = await fetch(anonymous, "/api/v1/openapi.json")  # no token needed to read it
    validate(document)
    assert document["openapi"] == "3.1.0"
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    expected = {
        ("POST", "/api/v1/users/{uid}/books"),
        ("GET", "/api/v1/users/{uid}/books"),
        ("PATCH", "/api/v1/users/{uid}/books/{book_id}"),
        ("GET", "/api/v1/users/{uid}/books/{book_id}"),
        ("POST", "/api/v1/users/{uid}/books/{book_id}/compile"),
        ("GET", "/api/v1/users/{uid}/books/{book_id}/export"),
        ("GET", "/api/v1/users/{uid}/books/{book_id}/versions"),
        ("GET", "/api/v1/users/{uid}/books/{book_id}/versions/{a}/diff/{b}"),
        ("GET", "/api/v1/users/{uid}/state"),
        ("GET", "/api/v1/users/{uid}/blobs"),
        ("POST", "/api/v1/blobs"),
        ("GET", "/api/v1/blobs/{blob_id}"),
        ("PUT", "/api/v1/blobs/{blob_id}"),
        ("DELETE", "/api/v1/blobs/{blob_id}"),
        ("GET", "/api/v1/blobs/{blob_id}/export"),
        ("GET", "/ws"),
    }
    assert expected <= operations, expected - operations
    assert all(item[m]["summary"] for item in document["paths"].values() for m in item), (
        "every operation says what it does"
    )
    created = document["paths"]["/api/v1/blobs"]["post"]
    assert (
        created["summary"]
        and "201" in created["responses"]
        and created["responses"]["422"]["content"]["application/problem+json"]
    )
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "urn:studio:problem:validation-failed" in document["info"]["description"]

    # What the gateway answers fits what the document says it answers.
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "doc", "title": "Doc"}) as response:
        book = await response.json()
    checker(document, "BookState").validate(book)
    async with api.post("/api/v1/blobs", json=draft("doc", 1)) as response:
        blob = await response.json()
    checker(document, "UserBlob").validate(blob)
    shown = await eventually(
        lambda: fetch(api, f"/api/v1/blobs/{blob['id']}"), lambda b: b["derived"], what="an expansion"
    )
    checker(document, "BlobView").validate(shown)
    checker(document, "BookView").validate(await fetch(api, f"/api/v1/users/{user_id}/books/doc"))
    checker(document, "BookList").validate(await fetch(api, f"/api/v1/users/{user_id}/books"))
    checker(document, "UserState").validate(await fetch(api, f"/api/v1/users/{user_id}/state"))
    checker(document, "BlobListView").validate(await fetch(api, f"/api/v1/users/{user_id}/blobs"))
    async with api.get("/api/v1/blobs/nope") as response:
        checker(document, "Problem").validate(await response.json())


async def test_the_asyncapi_document_describes_what_the_socket_sends(
    stack: Stack, api: aiohttp.ClientSession, user_id: str
) -> None:
    document = await fetch(api, "/api/v1/asyncapi.json")
    assert document["asyncapi"] == "3.0.0" and document["channels"]["live"]["address"] == "/ws"
    assert set(MESSAGE_OF.values()) | {"CreateBlobAction", "AuthenticateAction"} == set(
        document["components"]["messages"]
    )
    seen: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{stack.gateway}/ws", params={"token": token_for(stack, user_id)}) as ws:
            await ws.send_json(
                {
                    "action": "create_blob",
                    "request_id": "r1",
                    "data": {"content": "The gulls came back at dusk.", "book_id": "sock", "chapter": 1},
                }
            )
            await ws.send_json({"action": "dance", "data": {}})
            async with aiohttp.ClientSession(
                base_url=stack.gateway, headers={"Authorization": f"Bearer {token_for(stack, user_id)}"}
            ) as rest:
                async with rest.post(
                    f"/api/v1/users/{user_id}/books", json={"id": "sock-meta", "title": "Sock"}
                ) as response:
                    assert response.status == 201
                async with rest.patch(
                    f"/api/v1/users/{user_id}/books/sock-meta", json={"author": "Ann Lee", "dedication": None}
                ) as response:
                    assert response.status == 200

            async def read() -> None:
                async for message in ws:
                    seen.append(message.json())
                    if "blob.derived" in {m["type"] for m in seen} and any(
                        m.get("fields") == ["author", "dedication"] for m in seen
                    ):
                        return

            await asyncio.wait_for(read(), 30)
    kinds = {m["type"] for m in seen}
    assert {"ready", "blob.create.result", "error", "blob.created", "blob.derived", "book.updated"} <= kinds, kinds
    created, updated = [m for m in seen if m["type"] == "book.updated"]
    assert created["book_id"] == updated["book_id"] == "sock-meta"
    assert (created["fields"], updated["fields"]) == (["created", "title"], ["author", "dedication"])
    for message in seen:
        checker(document, MESSAGE_OF[message["type"]]).validate(message)
