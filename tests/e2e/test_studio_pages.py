"""The web studio as files: served to anyone, with a strict policy, nothing outside its own folder,
and small enough for a first load on a slow connection."""

from __future__ import annotations

import gzip

import aiohttp
from yarl import URL

from gateway.routes.studio import files
from studio_testing.harness import Stack


async def test_pages_and_files_are_served_with_a_strict_policy(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(stack.gateway + "/") as response:
            assert response.status == 200 and response.content_type == "text/html"
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        for page in ("/books/any-book", "/pitches/new"):  # addressable pages: the same page, routed by its script
            async with session.get(stack.gateway + page) as response:
                assert response.status == 200 and response.content_type == "text/html"
        async with session.get(stack.gateway + "/static/app.js") as response:
            assert response.status == 200 and response.content_type == "text/javascript"
        for path in (
            "/static/../studio.py",
            "/static/%2E%2E/studio.py",
            "/static/vendor/LICENSE-htm",
            "/static/vendor/fetch.sh",
            "/static/nope.js",
        ):
            async with session.get(URL(stack.gateway + path, encoded=True)) as response:
                assert response.status == 404, path


async def test_the_first_load_is_small(stack: Stack) -> None:
    """Every file the first page needs (all of them: it is small), as gzip would send them."""
    total = 0
    async with aiohttp.ClientSession() as session:
        for path in ["/", *files()]:
            async with session.get(stack.gateway + path) as response:
                assert response.status == 200, path
                total += len(gzip.compress(await response.read()))
    assert total < 200 * 1024, f"{total} bytes compressed"
