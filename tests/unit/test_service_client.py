"""The one client between services: what it sends, and how it sorts what comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from servicekit.client import ServiceClient, ServiceFailed, ServiceUnavailable
from servicekit.middleware import REQUEST_ID_HEADER, request_id_middleware
from servicekit.retry import RetryPolicy
from servicekit.urls import url_path
from studio_testing.harness import free_port


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[web.Response | float], list[dict[str, Any]]]]:
    """Answers each request with the next of a list the test fills (a float: sleep that long first)."""
    answers: list[web.Response | float] = []
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append({"path": request.raw_path, "headers": CIMultiDict(request.headers), "body": await request.read()})
        answer = answers.pop(0)
        if isinstance(answer, float):
            await asyncio.sleep(answer)
            return web.Response(status=200)
        return answer

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", answers, seen
    await runner.cleanup()


def problem(status: int) -> web.Response:
    return web.Response(status=status, text="{}", content_type="application/problem+json")


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (web.Response(status=200, text="{}"), None),
        (web.Response(status=404, text="{}"), None),
        (problem(422), None),
        (problem(500), ServiceFailed),
        (web.Response(status=500, text="boom"), ServiceFailed),
        (problem(503), ServiceUnavailable),
        (web.Response(status=502), ServiceUnavailable),
        (web.Response(status=504), ServiceUnavailable),
        (web.Response(status=429), ServiceUnavailable),
        (web.Response(status=401), ServiceUnavailable),
    ],
)
async def test_answers_are_sorted(server: Any, answer: web.Response, raised: type[Exception] | None) -> None:
    base, answers, _ = server
    answers.append(answer)
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(session, name="s", base_url=base, token="t", timeout=5)
        if raised is None:
            assert (await client.request("GET", url_path("x"))).status == answer.status
        else:
            with pytest.raises(raised) as caught:
                await client.request("GET", url_path("x"))
            assert caught.value.answer is not None and caught.value.answer.status == answer.status


async def test_it_sends_the_token_the_request_id_and_encoded_segments(server: Any) -> None:
    base, answers, seen = server
    answers.extend([web.Response(status=204), web.Response(status=204), web.Response(status=204)])
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(session, name="s", base_url=base + "/", token="secret", timeout=5)

        async def calling(request: web.Request) -> web.Response:
            await client.request("GET", url_path("y"))  # made while handling a request: it carries its id
            return web.Response(status=204)

        caller = web.Application(middlewares=[request_id_middleware])
        caller.router.add_get("/call", calling)
        runner = web.AppRunner(caller)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await client.request("POST", url_path("blobs", "a/../b?c"), body={"x": 1}, request_id="rid-1")
            async with session.get(
                f"http://127.0.0.1:{port}/call", headers={REQUEST_ID_HEADER: "from-the-caller"}
            ) as response:
                assert response.status == 204, await response.text()
            await client.request("GET", url_path("z"))
        finally:
            await runner.cleanup()
    first, second, third = seen
    assert first["path"] == "/blobs/a%2F..%2Fb%3Fc"
    assert first["headers"]["Authorization"] == "Bearer secret"
    assert first["headers"][REQUEST_ID_HEADER] == "rid-1"
    assert first["headers"]["Content-Type"] == "application/json" and first["body"] == b'{"x":1}'
    assert second["headers"][REQUEST_ID_HEADER] == "from-the-caller"
    assert REQUEST_ID_HEADER not in third["headers"]


async def test_no_answer_in_time_is_unavailability(server: Any) -> None:
    base, answers, _ = server
    answers.append(2.0)
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(session, name="s", base_url=base, token="t", timeout=5)
        with pytest.raises(ServiceUnavailable, match="no answer within 100 ms") as caught:
            await client.request("GET", url_path("x"), timeout=0.1)
    assert caught.value.answer is None


async def test_its_policy_retries_unavailability_only(server: Any) -> None:
    base, answers, seen = server
    policy = RetryPolicy("test", first=0.01, cap=0.01, attempts=3)
    answers.extend([web.Response(status=503), web.Response(status=503), web.Response(status=200)])
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(session, name="s", base_url=base, token="t", timeout=5, retry=policy)
        assert (await client.request("GET", url_path("x"))).status == 200
        assert len(seen) == 3
        answers.extend([web.Response(status=503)] * 3)
        with pytest.raises(ServiceUnavailable):
            await client.request("GET", url_path("x"))
        assert len(seen) == 6, "three tries in all, then the failure"
        answers.append(problem(500))
        with pytest.raises(ServiceFailed):
            await client.request("GET", url_path("x"))
        assert len(seen) == 7, "a service's own failure is not tried again"


async def test_a_batch_answer_that_is_not_one_is_a_failure(server: Any) -> None:
    base, answers, _ = server
    answers.extend(
        [
            web.json_response({"blobs": [{"id": "a", "x": 1}], "missing": ["b"]}),
            web.json_response({"blobs": "nope"}),
            problem(404),
        ]
    )
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(session, name="s", base_url=base, token="t", timeout=5)
        found, missing = await client.batch(url_path("batch"), {"user_id": "u", "ids": ["a", "b"]})
        assert found == {"a": {"id": "a", "x": 1}} and missing == ["b"]
        with pytest.raises(ServiceFailed, match="does not decode"):
            await client.batch(url_path("batch"), {"user_id": "u", "ids": ["a"]})
        with pytest.raises(ServiceFailed, match="refused the batch: 404"):
            await client.batch(url_path("batch"), {"user_id": "u", "ids": ["a"]})
