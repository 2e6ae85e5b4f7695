"""The aggregated views through the gateway, against a stack whose text expansion the tests control.

Text expansion runs here against a local OpenAI-compatible server the tests can take down, so an
expansion can be kept stale; the tests can also freeze its process (SIGSTOP) or lose its data.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from pymongo import AsyncMongoClient

from servicekit.auth import issue_token
from studio_testing.fake_openai import ThreadedProvider
from studio_testing.harness import ServiceProcess, Stack, free_port
from studio_testing.payloads import draft
from studio_testing.sockets import Socket
from studio_testing.waiting import eventually
from tests.e2e.expanding import EXPANSIONS_DB, settled, view, write_book


async def upstream_calls(stack: Stack) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        async with session.get(stack.gateway + "/metrics", headers=stack.metrics_headers) as response:
            text = await response.text()
    calls: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("studio_gateway_upstream_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            source = labels.split('source="')[1].split('"')[0]
            calls[source] = calls.get(source, 0) + float(value)
    return calls


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Calls made between two readings, by source (sources with none left out)."""
    return {s: after[s] - before.get(s, 0) for s in after if after[s] != before.get(s, 0)}


async def test_a_20_chapter_book_is_complete_ordered_and_costs_one_call_per_source(
    agg: tuple[Stack, ServiceProcess], client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    drafts = await write_book(client, user_id, "twenty", 20)
    body = await settled(agg[0], client, user_id, "twenty")
    assert body["book"] == {"id": "twenty", "title": "Book twenty", "description": None, "words": 160, "ai_words": 0}
    assert [c["chapter"] for c in body["chapters"]] == list(range(1, 21))
    assert [c["draft"]["id"] for c in body["chapters"]] == drafts
    assert all(c["derived"]["text-expansion"]["status"] == "ok" and "expanded" not in c for c in body["chapters"])
    assert body["errors"] == [] and body["compiled"] is None
    whole, _ = await view(client, user_id, "twenty", expanded=True)  # the old field, for clients that ask
    assert all(c["expanded"]["parent_blob_id"] == c["draft"]["id"] for c in whole["chapters"])
    assert all(c["expanded"]["data"] == c["derived"]["text-expansion"]["data"] for c in whole["chapters"])
    assert len(msgspec.json.encode(body)) < len(msgspec.json.encode(whole))
    before = await upstream_calls(stack)
    fresh, response = await view(client, user_id, "twenty", **{"Cache-Control": "no-cache"})
    after = await upstream_calls(stack)
    assert delta(before, after) == {"index": 1, "text-expansion": 1}
    assert set(fresh["sources"]) == {"index", "text-expansion"}
    assert response.headers["X-Cache"] == "bypass" and response.headers["X-Request-Id"]
    cached, response = await view(client, user_id, "twenty")
    assert response.headers["X-Cache"] in ("hit", "miss") and cached["chapters"] == fresh["chapters"]
    _, response = await view(client, user_id, "twenty")
    assert response.headers["X-Cache"] == "hit" and int(response.headers["Age"]) >= 0
    assert delta(after, await upstream_calls(stack)) == {}, "a cached view calls nobody"


async def test_a_frozen_store_costs_its_deadline_and_is_used_again_when_thawed(
    agg: tuple[Stack, ServiceProcess], client: aiohttp.ClientSession, user_id: str
) -> None:
    _, expansion = agg
    await write_book(client, user_id, "frozen", 3)
    await settled(agg[0], client, user_id, "frozen")
    assert expansion.process is not None
    os.kill(expansion.process.pid, signal.SIGSTOP)
    try:
        started = time.perf_counter()
        body, _ = await view(client, user_id, "frozen", **{"Cache-Control": "no-cache"})
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, "within the request's budget"
        assert [c["status"] for c in body["chapters"]] == ["unavailable"] * 3
        assert [c["draft_status"] for c in body["chapters"]] == ["ok"] * 3
        assert body["sources"]["text-expansion"]["status"] == "unavailable"
        assert [e["source"] for e in body["errors"]] == ["text-expansion"]
    finally:
        os.kill(expansion.process.pid, signal.SIGCONT)
    await settled(agg[0], client, user_id, "frozen")  # the circuit probes again after its cool-down


async def test_an_edited_chapter_is_stale_until_its_expansion_is_made_again(
    agg: tuple[Stack, ServiceProcess], provider: ThreadedProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    drafts = await write_book(client, user_id, "stale", 2)
    await settled(agg[0], client, user_id, "stale")
    provider.provider.down = True
    try:
        async with client.put(
            f"/api/v1/blobs/{drafts[1]}", json={"data": draft("stale", 2, "A new second chapter, longer.")["data"]}
        ) as r:
            assert r.status == 200
        body, _ = await eventually(
            lambda: view(client, user_id, "stale", expanded=True),
            lambda v: v[0]["chapters"][1]["draft"]["version"] == 2,
            what="the edit seen",
        )
        assert [c["status"] for c in body["chapters"]] == ["ok", "stale"]
        assert body["chapters"][1]["expanded"]["source_version"] == 1
        # A chapter written while the provider is down waits for its expansion: pending.
        async with client.post("/api/v1/blobs", json=draft("stale", 3, "A third chapter, still to be expanded.")) as r:
            assert r.status == 201
        body, _ = await eventually(
            lambda: view(client, user_id, "stale", expanded=True),
            lambda v: len(v[0]["chapters"]) == 3,
            what="chapter 3",
        )
        assert body["chapters"][2]["status"] == "pending" and body["chapters"][2]["expanded"] is None
        async with client.get(f"/api/v1/users/{user_id}/blobs", params={"book_id": "stale"}) as r:
            listing = await r.json()
        statuses = {b["chapter"]: [(d["processor"], d["status"]) for d in b["derived"]] for b in listing["blobs"]}
        assert statuses == {
            1: [("text-expansion", "ok")],
            2: [("text-expansion", "stale")],
            3: [("text-expansion", "pending")],
        }
        first = next(b for b in listing["blobs"] if b["chapter"] == 1)
        assert first["derived"][0]["data"]["original"] == first["data"]["content"]
        assert set(listing["sources"]) == {"index", "text-expansion"} and listing["errors"] == []
    finally:
        provider.provider.down = False
    await settled(agg[0], client, user_id, "stale")


async def test_a_dangling_index_entry_is_missing_and_repaired(
    agg: tuple[Stack, ServiceProcess], client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    await write_book(client, user_id, "lost", 2)
    body = await settled(agg[0], client, user_id, "lost")
    lost = body["chapters"][0]["derived"]["text-expansion"]["id"]
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        await mongo[EXPANSIONS_DB]["expanded_texts"].delete_one({"_id": lost})
    finally:
        await mongo.close()
    body, _ = await view(client, user_id, "lost", expanded=True, **{"Cache-Control": "no-cache"})
    assert [c["status"] for c in body["chapters"]] == ["missing", "ok"]
    assert body["errors"] == [
        {"source": "text-expansion", "status": "missing", "detail": body["errors"][0]["detail"], "ids": [lost]}
    ]
    repaired = await settled(agg[0], client, user_id, "lost")
    assert repaired["chapters"][0]["derived"]["text-expansion"]["id"] == lost  # made again, under the same id


async def test_the_cache_follows_every_kind_of_event(
    agg: tuple[Stack, ServiceProcess], client: aiohttp.ClientSession, user_id: str
) -> None:
    drafts = await write_book(client, user_id, "cached", 1)
    await settled(agg[0], client, user_id, "cached")

    async def cached_then(change: Any, seen: Any, what: str) -> None:
        # Only a complete view is cached: a chapter still pending after the last step is not yet.
        await eventually(
            lambda: view(client, user_id, "cached"),
            lambda v: v[1].headers["X-Cache"] == "hit",
            what=f"cached before {what}",
        )
        await change()
        await eventually(lambda: view(client, user_id, "cached"), lambda v: seen(v[0]), what=what)

    async def add() -> None:
        async with client.post("/api/v1/blobs", json=draft("cached", 2, "A second chapter arrives.")) as r:
            assert r.status == 201

    await cached_then(add, lambda v: len(v["chapters"]) == 2, "created")
    await cached_then(lambda: asyncio.sleep(0), lambda v: v["chapters"][1]["status"] == "ok", "derived")

    async def edit() -> None:
        async with client.put(
            f"/api/v1/blobs/{drafts[0]}", json={"data": draft("cached", 1, "An edited opening.")["data"]}
        ) as r:
            assert r.status == 200

    await cached_then(edit, lambda v: v["chapters"][0]["draft"]["version"] == 2, "updated")

    async def compile_book() -> None:
        async with client.post(f"/api/v1/users/{user_id}/books/cached/compile") as r:
            assert r.status == 202

    await cached_then(compile_book, lambda v: v["compiled"] is not None and v["compiled"]["version"] == 1, "compiled")

    async def delete() -> None:
        body, _ = await view(client, user_id, "cached")
        async with client.delete(f"/api/v1/blobs/{body['chapters'][1]['draft']['id']}") as r:
            assert r.status == 204

    await cached_then(delete, lambda v: len(v["chapters"]) == 1, "deleted")


async def test_fifty_identical_requests_share_one_fan_out(
    agg: tuple[Stack, ServiceProcess], client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    await write_book(client, user_id, "crowd", 5)
    async with client.post(f"/api/v1/users/{user_id}/books", json={"id": "aside", "title": "Aside"}) as r:
        assert r.status == 201
    await settled(agg[0], client, user_id, "crowd")
    socket = Socket(await client.ws_connect("/ws"))
    try:
        await socket.first("ready")
        # A change of another book drops the cached view; the event reaching the socket proves the
        # gateway has had it (it drops the views before it tells the sockets), so none comes mid-crowd.
        async with client.patch(f"/api/v1/users/{user_id}/books/aside", json={"title": "Aside, renamed"}) as r:
            assert r.status == 200, await r.text()
        await socket.first(lambda m: m["type"] == "book.updated" and m["book_id"] == "aside")
    finally:
        await socket.close()
    before = await upstream_calls(stack)
    answers = await asyncio.gather(*(view(client, user_id, "crowd") for _ in range(50)))
    after = await upstream_calls(stack)
    assert delta(before, after) == {"index": 1, "text-expansion": 1}
    served = [r.headers["X-Cache"] for _, r in answers]
    assert served.count("miss") == 1 and set(served) <= {"miss", "shared", "hit"}, served  # one build, shared
    assert len({str(b) for b, _ in answers}) == 1


async def test_another_users_book_is_not_found(
    agg: tuple[Stack, ServiceProcess], client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    await write_book(client, user_id, "private", 1)
    headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], 'someone-else')}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as other:
        for path in (f"/api/v1/users/{user_id}/books/private", "/api/v1/users/someone-else/books/private"):
            async with other.get(path) as response:
                assert response.status == 404 and response.content_type == "application/problem+json"


class SlowStore:
    """A proxy in front of text expansion that serves two calls at a time, each 80 ms late: a store
    that is slow and saturated, not failing."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.slots = asyncio.Semaphore(2)
        self.calls = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls += 1
        async with self.slots:
            await asyncio.sleep(0.08)
            async with aiohttp.ClientSession() as session:
                async with session.request(
                    request.method,
                    self.target + request.path_qs,
                    data=body,
                    headers={
                        k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")
                    },
                ) as response:
                    payload = await response.read()
                    return web.Response(status=response.status, body=payload, content_type=response.content_type)

    async def __aenter__(self) -> SlowStore:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def reroute(stack: Stack, processor_id: str, base_url: str) -> None:
    """Point the registry entry of a processor at `base_url` (the gateway follows at once)."""
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(base_url=stack.index, headers=headers) as internal:
        async with internal.get(f"/api/v1/processors/{processor_id}") as response:
            registration = await response.json()
        registration["base_url"] = base_url
        registration.pop("created_at", None)
        async with internal.post("/api/v1/processors", json=registration) as response:
            assert response.status in (200, 201), await response.text()


async def test_a_slow_saturated_store_under_load_gives_complete_answers_or_503s_never_partial(
    agg: tuple[Stack, ServiceProcess], client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, expansion = agg
    books = [f"loaded-{n}" for n in range(16)]
    for book in books:  # each reader on its own book: no two requests share a fan-out
        await write_book(client, user_id, book, 4)
    for book in books:
        await settled(agg[0], client, user_id, book)
    outcomes: dict[str, int] = {"complete": 0, "partial": 0, "shed": 0}
    async with SlowStore(expansion.url) as slow:
        await reroute(stack, "text-expansion", slow.url)
        try:

            async def routed() -> int:  # the registration's event reaches the gateway: it calls the slow store
                async with client.get(
                    f"/api/v1/users/{user_id}/books/{books[0]}", headers={"Cache-Control": "no-cache"}
                ) as response:
                    await response.read()
                return slow.calls

            await eventually(routed, lambda calls: calls > 0, what="the gateway calling the slow store")
            deadline = time.monotonic() + 4.0

            async def reader(book: str) -> None:
                while time.monotonic() < deadline:
                    async with client.get(
                        f"/api/v1/users/{user_id}/books/{book}", headers={"Cache-Control": "no-cache"}
                    ) as response:
                        if response.status == 503:
                            assert response.headers["Retry-After"].isdigit()
                            assert (await response.json())["type"].endswith("overloaded")
                            outcomes["shed"] += 1
                            await asyncio.sleep(0.05)
                            continue
                        assert response.status == 200, await response.text()
                        body = await response.json()
                        complete = all(c["status"] == "ok" for c in body["chapters"]) and not body["errors"]
                        outcomes["complete" if complete else "partial"] += 1

            await asyncio.gather(*(reader(book) for book in books))
        finally:
            await reroute(stack, "text-expansion", expansion.url)
    assert slow.calls > 10, "the views went through the slow store"
    assert outcomes["partial"] == 0, outcomes
    assert outcomes["complete"] > 10, outcomes
    async with aiohttp.ClientSession() as session:
        async with session.get(stack.gateway + "/metrics", headers=stack.metrics_headers) as response:
            metrics = await response.text()
    assert 'studio_gateway_source_limit{source="text-expansion"}' in metrics
    assert 'studio_gateway_source_queued{source="text-expansion"}' in metrics
    assert "studio_gateway_shed_total{source=" in metrics or outcomes["shed"] == 0
    print(f"slow store under 16 readers for 4 s: {outcomes}")
