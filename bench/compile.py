"""Compile time for books of 10, 50 and 200 chapters, and where the time goes.

Starts its own stack (every processor, offline expander), writes each book through the index
service, waits for every chapter's expansion, then compiles it several times. For each size it
prints the median time from the compile request to the `book.compiled` event, and the compiler's
own split (read from its database): fetching from the index and text expansion, choosing texts,
writing to PostgreSQL, registering in the index. Growth is shown as ratios to the 10-chapter book.

Run from the repository root: .venv/bin/python -m bench.compile [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import aiohttp
import asyncpg
import msgspec
import nats

from servicekit.auth import issue_token
from studio_testing.harness import running_stack

SIZES = (10, 50, 200)
PARAGRAPH = "The tide came in over the causeway while the lamp turned above the harbour wall. Mara counted the bells. "


async def write_book(session: aiohttp.ClientSession, index: str, user_id: str, book_id: str, chapters: int) -> None:
    async with session.post(
        f"{index}/api/v1/users/{user_id}/books", json={"id": book_id, "title": f"Book of {chapters}"}
    ) as r:
        assert r.status == 201, await r.text()
    semaphore = asyncio.Semaphore(8)

    async def chapter(n: int) -> None:
        data = {
            "content": f"Chapter {n}. " + PARAGRAPH * 4,
            "metadata": {"book_id": book_id, "chapter": n, "title": f"Part {n}"},
        }
        async with (
            semaphore,
            session.post(
                f"{index}/api/v1/blobs", json={"user_id": user_id, "schema_id": "text-input-v1", "data": data}
            ) as r,
        ):
            assert r.status == 201, await r.text()

    await asyncio.gather(*(chapter(n) for n in range(1, chapters + 1)))


async def expansions_done(
    session: aiohttp.ClientSession, index: str, user_id: str, book_id: str, chapters: int
) -> None:
    while True:
        async with session.get(f"{index}/api/v1/users/{user_id}/books/{book_id}") as r:
            book = await r.json()
        if sum(1 for c in book["chapters"] if c["processed_blob_ids"].get("text-expansion")) >= chapters:
            return
        await asyncio.sleep(0.2)


async def run(runs: int) -> None:
    with running_stack() as stack:
        token = issue_token(stack.secrets["jwt_secret"], "bench-compiler")
        service = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
        nc = await nats.connect(stack.nats_url)
        compiled: dict[str, float] = {}

        async def on_compiled(msg: Any) -> None:
            compiled[msgspec.json.decode(msg.data)["request_id"]] = time.perf_counter()

        await nc.subscribe("book.compiled", cb=on_compiled)
        database = await asyncpg.connect(stack.refresh()["databases"]["book-compiler"])
        results: dict[int, dict[str, float]] = {}
        try:
            async with (
                aiohttp.ClientSession(headers=service) as internal,
                aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as api,
            ):
                for size in SIZES:
                    book_id = f"book-{size}"
                    await write_book(internal, stack.index, "bench-compiler", book_id, size)
                    await expansions_done(internal, stack.index, "bench-compiler", book_id, size)
                    totals = []
                    for _ in range(runs):
                        started = time.perf_counter()
                        async with api.post(
                            f"{stack.gateway}/api/v1/users/bench-compiler/books/{book_id}/compile"
                        ) as r:
                            request_id = (await r.json())["request_id"]
                        while request_id not in compiled:
                            await asyncio.sleep(0.001)
                        totals.append((compiled[request_id] - started) * 1000)
                    rows = await database.fetch(
                        "SELECT timings FROM compiled_books WHERE user_id = 'bench-compiler' AND book_id = $1", book_id
                    )
                    timings = [msgspec.json.decode(r["timings"]) for r in rows]
                    results[size] = {
                        "request_to_event_ms": statistics.median(totals),
                        **{
                            k: statistics.median(t[k] for t in timings)
                            for k in ("fetch_ms", "compile_ms", "store_ms", "register_ms", "total_ms")
                        },
                    }
        finally:
            await database.close()
            await nc.drain()
    base = results[SIZES[0]]
    print(
        f"{'chapters':>8} {'request->event':>15} {'compiler total':>15} {'fetch':>8} {'choose':>8} "
        f"{'PG write':>9} {'register':>9}  fetch share  PG share  growth"
    )
    for size, r in results.items():
        print(
            f"{size:>8} {r['request_to_event_ms']:12.1f} ms {r['total_ms']:12.1f} ms "
            f"{r['fetch_ms']:6.1f} ms {r['compile_ms']:6.2f} ms "
            f"{r['store_ms']:7.1f} ms {r['register_ms']:7.1f} ms  "
            f"{r['fetch_ms'] / r['total_ms']:10.0%}  {r['store_ms'] / r['total_ms']:8.0%}  "
            f"{r['request_to_event_ms'] / base['request_to_event_ms']:5.1f}x"
        )
    print(f"(medians of {runs} compiles per size; growth is request->event relative to {SIZES[0]} chapters)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(run(parser.parse_args().runs))


if __name__ == "__main__":
    main()
