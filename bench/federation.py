"""An open federation's costs: a book view with 2 and with 5 processors, and an edit's cascade.

Starts its own stack (text expansion and the summary: a chain), writes a 20-chapter book and
measures the uncached view against its limit (the index lookup, then the slowest single store
batch, made directly), and the upstream calls per view. Then starts three more processors (small
in-memory ones, `bench/extra_processor.py`, each its own process), writes another book, and
measures the same with five. Last, the edit cascade: a draft is updated and the clock stops when
the socket announces the last level of the 3-level chain (draft -> expansion -> summary) made
from the new version.

Run from the repository root: .venv/bin/python -m bench.federation [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp

from servicekit.auth import issue_token
from studio_testing.harness import Stack, free_port, running_stack

from .aggregate import ms

USER = "bench-federation"
CHAPTERS = 20
EXTRAS = ("tally-a", "tally-b", "tally-c")


async def write_book(stack: Stack, service: aiohttp.ClientSession, book_id: str) -> list[str]:
    ids = []
    for n in range(1, CHAPTERS + 1):
        data = {
            "content": f"Chapter {n}. The tide came in over the causeway.\n\nThe lamp turned above them all night.",
            "metadata": {"book_id": book_id, "chapter": n},
        }
        async with service.post(
            f"{stack.index}/api/v1/blobs", json={"user_id": USER, "schema_id": "text-input-v1", "data": data}
        ) as r:
            assert r.status == 201, await r.text()
            ids.append((await r.json())["id"])
    return ids


async def settled(user: aiohttp.ClientSession, url: str, processors: int) -> dict[str, Any]:
    """The view once every chapter has every processor's piece, current."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        async with user.get(url, headers={"Cache-Control": "no-cache"}) as response:
            view = await response.json()
        if all(
            len(c["derived"]) >= processors and all(d["status"] == "ok" for d in c["derived"].values())
            for c in view["chapters"]
        ):
            return dict(view)
        await asyncio.sleep(0.3)
    raise TimeoutError(f"the book never settled with {processors} processors")


async def view_and_limit(
    stack: Stack, user: aiohttp.ClientSession, service: aiohttp.ClientSession, book_id: str, samples: int
) -> None:
    url = f"{stack.gateway}/api/v1/users/{USER}/books/{book_id}"
    first = await settled(user, url, len(EXTRAS) + 2 if book_id.endswith("5") else 2)
    processors = sorted({p for c in first["chapters"] for p in c["derived"]})
    async with service.get(f"{stack.index}/api/v1/processors") as r:
        where = {p["id"]: p["base_url"] for p in (await r.json())["processors"]}
    views, limits, calls = [], [], []
    for _ in range(samples):
        started = time.perf_counter()
        async with user.get(url, headers={"Cache-Control": "no-cache"}) as response:
            body = await response.json()
        views.append(time.perf_counter() - started)
        calls.append(len(body["sources"]))  # the index, and one entry per store called
        started = time.perf_counter()
        async with service.get(
            f"{stack.index}/api/v1/users/{USER}/books/{book_id}", params={"include": "drafts"}
        ) as response:
            state = await response.json()
        lookup = time.perf_counter() - started
        slowest = 0.0
        for processor in processors:
            ids = [c["derived"][processor]["id"] for c in state["chapters"] if processor in c["derived"]]
            started = time.perf_counter()
            async with service.post(f"{where[processor]}/blobs/batch", json={"user_id": USER, "ids": ids}) as response:
                await response.read()
            slowest = max(slowest, time.perf_counter() - started)
        limits.append(lookup + slowest)
    g, limit = statistics.median(views), statistics.median(limits)
    print(
        f"{len(processors)} processors, {CHAPTERS} chapters  view {ms(views)}  limit {ms(limits)}  "
        f"view/limit p50 {g / limit:.2f}x  "
        f"upstream calls per view {statistics.median(calls):.0f} (index + {statistics.median(calls) - 1:.0f} stores)"
    )


async def cascade(stack: Stack, user: aiohttp.ClientSession, token: str, drafts: list[str], samples: int) -> None:
    lags = []
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(f"{stack.gateway}/ws", params={"token": token})
        await ws.receive_json()  # ready
        for n in range(samples):
            draft_id = drafts[n % len(drafts)]
            async with user.get(f"{stack.gateway}/api/v1/blobs/{draft_id}") as r:
                blob = await r.json()
            data = {**blob["data"], "content": blob["data"]["content"] + f" Edit {n}."}
            started = time.perf_counter()
            async with user.put(f"{stack.gateway}/api/v1/blobs/{draft_id}", json={"data": data}) as r:
                assert r.status == 200, await r.text()
            expansion = None
            while True:
                message = await ws.receive_json(timeout=60)
                if message.get("type") != "blob.derived":
                    continue
                if message["processor"] == "text-expansion" and message["parent_id"] == draft_id:
                    expansion = message["derived_id"]
                elif message["processor"] == "summary" and expansion is not None and message["parent_id"] == expansion:
                    lags.append(time.perf_counter() - started)
                    break
        await ws.close()
    print(f"edit cascade, draft update -> summary of the new expansion on the socket ({samples} edits): {ms(lags)}")


async def run(samples: int) -> None:
    with running_stack(STUDIO_PROCESSORS="text-expansion,summary") as stack:
        token = issue_token(stack.secrets["jwt_secret"], USER)
        extras: list[subprocess.Popen[bytes]] = []
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as user,
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {stack.secrets['service_token']}"}) as service,
        ):
            try:
                two = await write_book(stack, service, "book-2")
                await view_and_limit(stack, user, service, "book-2", samples)
                for processor_id in EXTRAS:
                    env = {
                        **os.environ,
                        "PROCESSOR_ID": processor_id,
                        "STUDIO_EXTRA_PORT": str(free_port()),
                        "STUDIO_INDEX_URL": stack.index,
                        "STUDIO_NATS_URL": stack.nats_url,
                        "STUDIO_SERVICE_TOKEN": stack.secrets["service_token"],
                    }
                    extras.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "bench.extra_processor"], env=env, stderr=subprocess.DEVNULL
                        )
                    )
                await asyncio.sleep(3)  # registered, consuming
                await write_book(stack, service, "book-5")
                await view_and_limit(stack, user, service, "book-5", samples)
                await cascade(stack, user, token, two, samples)
            finally:
                for process in extras:
                    process.terminate()
                for process in extras:
                    process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.samples))


if __name__ == "__main__":
    main()
