"""The aggregated book view, the cache, and live delivery, each against its yardstick in one run.

Starts its own stack (every processor, offline expander) and prints:
- the uncached view of a 20- and a 100-chapter book (p50/p99) against the *limit*: the index lookup
  (which returns the drafts) plus the slowest processor store's batch call for the same ids, each
  measured directly; and against a naive client that fetches every blob one by one;
- under load, for 20- and 100-chapter books at 1, 16 and 64 concurrent clients each on its own
  book: complete answers/s, partial answers/s, shed/s (503), p50/p99, against the *ceiling*: the
  same calls made directly by the same number of clients, without the gateway;
- the cached view against the uncached one, and requests/s at 32 and 128 concurrent clients against
  a bare aiohttp handler (its own process) returning the same bytes;
- create-to-`blob.derived` on the socket (p50/p99), and one event fanned out to 1,000 sockets.

Run from the repository root: .venv/bin/python -m bench.aggregate [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from servicekit.auth import issue_token
from studio_testing.harness import ROOT, Stack, free_port, running_stack

USER = "bench-reader"
LOAD_CLIENTS = (1, 16, 64)
ALL_CELLS = [(chapters, clients) for chapters in (20, 100) for clients in LOAD_CLIENTS]
BARE = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    body = open(sys.argv[2], "rb").read()
    async def handler(request):
        return web.Response(body=body, content_type="application/json")
    app = web.Application()
    app.router.add_get("/view", handler)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1e3:7.2f} ms  p99 {pct(values, 0.99) * 1e3:7.2f} ms"


class Bench:
    def __init__(self, stack: Stack, user: aiohttp.ClientSession, service: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.user = user
        self.service = service

    async def timed(self, method: str, url: str, session: aiohttp.ClientSession, **kwargs: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        async with session.request(method, url, **kwargs) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        return time.perf_counter() - started, body

    async def write_book(self, book_id: str, chapters: int, *, settle: bool = True) -> None:
        index = self.stack.index
        async with self.service.post(f"{index}/api/v1/users/{USER}/books", json={"id": book_id, "title": book_id}) as r:
            assert r.status == 201
        semaphore = asyncio.Semaphore(8)

        async def chapter(n: int) -> None:
            data = {
                "content": f"Chapter {n}. The tide came in over the causeway while the lamp turned.",
                "metadata": {"book_id": book_id, "chapter": n},
            }
            async with (
                semaphore,
                self.service.post(
                    f"{index}/api/v1/blobs", json={"user_id": USER, "schema_id": "text-input-v1", "data": data}
                ) as r,
            ):
                assert r.status == 201

        await asyncio.gather(*(chapter(n) for n in range(1, chapters + 1)))
        if settle:
            await self.settle(book_id)

    async def settle(self, book_id: str) -> None:
        """Wait until every chapter of the book has its current expansion."""
        while True:
            async with self.user.get(
                f"{self.stack.gateway}/api/v1/users/{USER}/books/{book_id}", headers={"Cache-Control": "no-cache"}
            ) as response:
                view = await response.json() if response.status == 200 else None
            if view is not None and all(c["status"] == "ok" for c in view["chapters"]):
                return
            await asyncio.sleep(0.2)

    async def book(self, book_id: str, samples: int) -> dict[str, list[float]]:
        gateway = f"{self.stack.gateway}/api/v1/users/{USER}/books/{book_id}"
        index = self.stack.index
        found: dict[str, list[float]] = {"gateway": [], "limit": [], "naive": [], "cached": []}
        _, state = await self.timed("GET", f"{index}/api/v1/users/{USER}/books/{book_id}", self.service)
        drafts = [c["draft_blob_id"] for c in state["chapters"]]
        expansions = [c["processed_blob_ids"]["text-expansion"] for c in state["chapters"]]
        for _ in range(samples):
            elapsed, _ = await self.timed("GET", gateway, self.user, headers={"Cache-Control": "no-cache"})
            found["gateway"].append(elapsed)
            found["limit"].append(await direct_view(self.stack, self.service, book_id))
        await self.timed("GET", gateway, self.user)  # fill the cache
        for _ in range(samples):
            elapsed, _ = await self.timed("GET", gateway, self.user)
            found["cached"].append(elapsed)
        for _ in range(max(3, samples // 10)):
            started = time.perf_counter()
            await self.timed("GET", f"{index}/api/v1/users/{USER}/books/{book_id}", self.service)
            for draft_id, expansion_id in zip(drafts, expansions, strict=True):
                await self.timed("GET", f"{index}/api/v1/blobs/{draft_id}", self.service, params={"user_id": USER})
                await self.timed(
                    "GET", f"{self.stack.text_expansion}/blobs/{expansion_id}", self.service, params={"user_id": USER}
                )
            found["naive"].append(time.perf_counter() - started)
        return found


async def direct_view(stack: Stack, service: aiohttp.ClientSession, book_id: str) -> float:
    """The calls a view needs, made directly one after the other: the lookup with its drafts, then
    the expansions' batch. Returns the seconds taken."""
    started = time.perf_counter()
    async with service.get(
        f"{stack.index}/api/v1/users/{USER}/books/{book_id}", params={"include": "drafts"}
    ) as response:
        assert response.status == 200, await response.text()
        state = await response.json()
    ids = [
        c["processed_blob_ids"]["text-expansion"]
        for c in state["chapters"]
        if "text-expansion" in c["processed_blob_ids"]
    ]
    async with service.post(f"{stack.text_expansion}/blobs/batch", json={"user_id": USER, "ids": ids}) as response:
        assert response.status == 200, await response.text()
        await response.read()
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


SLICES = 4  # gateway and direct take turns, so drift in a shared machine's speed hits both alike


async def under_load(stack: Stack, chapters: int, clients: int, seconds: float, *, patience: float) -> None:
    """Each client reads its own book again and again, through the gateway and directly, in turns."""
    gateway_pid = stack.refresh()["services"]["gateway"]["pid"]
    user_headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], USER)}"}
    service_headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    counts = {"complete": 0, "partial": 0, "shed": 0}
    latencies: list[float] = []
    direct = 0
    elapsed = direct_elapsed = cpu = 0.0
    limits: list[str] = []
    async with (
        aiohttp.ClientSession(headers=user_headers, connector=aiohttp.TCPConnector(limit=0)) as user,
        aiohttp.ClientSession(headers=service_headers, connector=aiohttp.TCPConnector(limit=0)) as service,
    ):

        async def reader(n: int, until: float) -> None:
            url = f"{stack.gateway}/api/v1/users/{USER}/books/load-{chapters}-{n}"
            while time.perf_counter() < until:
                started = time.perf_counter()
                async with user.get(url, headers={"Cache-Control": "no-cache"}) as response:
                    body = await response.json()
                if response.status == 503:
                    counts["shed"] += 1
                    # A client waits what Retry-After asks (times `patience`) before asking again.
                    await asyncio.sleep(
                        min(float(response.headers.get("Retry-After", "1")) * patience, until - time.perf_counter())
                    )
                    continue
                assert response.status == 200, body
                latencies.append(time.perf_counter() - started)
                complete = not body["errors"] and all(c["status"] == "ok" for c in body["chapters"])
                counts["complete" if complete else "partial"] += 1

        async def caller(n: int, until: float) -> None:
            nonlocal direct
            while time.perf_counter() < until:
                await direct_view(stack, service, f"load-{chapters}-{n}")
                direct += 1

        for _ in range(SLICES):
            cpu_before = cpu_seconds(gateway_pid)
            started = time.perf_counter()
            await asyncio.gather(*(reader(n, started + seconds / SLICES) for n in range(clients)))
            elapsed += time.perf_counter() - started
            cpu += cpu_seconds(gateway_pid) - cpu_before
            async with service.get(f"{stack.gateway}/metrics", headers=stack.metrics_headers) as response:
                limits = [
                    line.split("{", 1)[1].replace('source="', "").replace('"} ', "=")
                    for line in (await response.text()).splitlines()
                    if line.startswith("studio_gateway_source_limit{")
                ]
            started = time.perf_counter()
            await asyncio.gather(*(caller(n, started + seconds / SLICES) for n in range(clients)))
            direct_elapsed += time.perf_counter() - started
    answered = counts["complete"] + counts["partial"]
    cpu_ms = cpu * 1000 / max(1, answered + counts["shed"])
    rate = {k: v / elapsed for k, v in counts.items()}
    ceiling = direct / direct_elapsed
    spread = ms(latencies) if latencies else "no answers"
    print(
        f"{chapters:3d} ch {clients:3d} clients  complete {rate['complete']:6.1f}/s  partial {rate['partial']:5.1f}/s  "
        f"shed {rate['shed']:6.1f}/s  {spread}  direct ceiling {ceiling:6.1f}/s  "
        f"complete/ceiling {rate['complete'] / ceiling:.2f}x  "
        f"gateway CPU {cpu_ms:.1f} ms/answer, peak RSS {peak_rss_mib(gateway_pid):.0f} MiB  limits {' '.join(limits)}"
    )


async def throughput(url: str, headers: dict[str, str], concurrency: int, seconds: float = 3.0) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    await response.read()
                    assert response.status == 200
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


async def live(
    stack: Stack, user: aiohttp.ClientSession, samples: int, sockets: int
) -> tuple[list[float], list[float]]:
    token = issue_token(stack.secrets["jwt_secret"], USER)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
        ws = await client.ws_connect(f"{stack.gateway}/ws", params={"token": token})
        await ws.receive_json()  # ready
        lags = []
        for n in range(samples):
            async with user.post(
                f"{stack.gateway}/api/v1/blobs",
                json={"schema_id": "text-input-v1", "data": {"content": f"Live sample {n}: the lamp turned again."}},
            ) as r:
                parent = (await r.json())["id"]
            created = time.perf_counter()
            while True:
                message = await ws.receive_json(timeout=10)
                if message["type"] == "blob.derived" and message["parent_id"] == parent:
                    lags.append(time.perf_counter() - created)
                    break
        await ws.close()

        fan_user = f"{USER}-fanout"
        fan_token = issue_token(stack.secrets["jwt_secret"], fan_user)
        connections: list[aiohttp.ClientWebSocketResponse] = []
        for _ in range(0, sockets, 100):
            batch = await asyncio.gather(
                *(client.ws_connect(f"{stack.gateway}/ws", params={"token": fan_token}) for _ in range(100))
            )
            for connection in batch:
                await connection.receive_json()
            connections += batch
        deliveries: list[float] = []

        async def drain(connection: aiohttp.ClientWebSocketResponse, expected: int) -> None:
            created = 0
            while created < expected:  # the creations' own events; what follows of them (progress) is not counted
                message = await connection.receive_json(timeout=30)
                if message.get("type") != "blob.created":
                    continue
                created += 1
                deliveries.append(time.time() - datetime.fromisoformat(message["occurred_at"]).timestamp())

        events = 5
        readers = [asyncio.create_task(drain(c, events)) for c in connections]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {fan_token}"}) as writer:
            for n in range(events):
                async with writer.post(
                    f"{stack.gateway}/api/v1/blobs",
                    json={"schema_id": "text-input-v1", "data": {"content": f"Fan-out {n}: the tide."}, "type": "note"},
                ) as r:
                    assert r.status == 201
                await asyncio.sleep(0.5)
        await asyncio.gather(*readers)
        await asyncio.gather(*(c.close() for c in connections))
        return lags, deliveries


async def run(samples: int, load_seconds: float, cells: list[tuple[int, int]], patience: float) -> None:
    # Only text expansion consumes here, so the fan-out user's notes make one event each.
    with running_stack(
        STUDIO_PROCESSORS="text-expansion,book-compiler", STUDIO_TEXT_EXPANSION_CONCURRENCY="16"
    ) as stack:
        user_headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], USER)}"}
        service_headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
        async with (
            aiohttp.ClientSession(headers=user_headers) as user,
            aiohttp.ClientSession(headers=service_headers) as service,
        ):
            bench = Bench(stack, user, service)
            results = {}
            if cells != ALL_CELLS:
                await load_cells(stack, bench, cells, load_seconds, patience)
                return
            for chapters in (20, 100):
                await bench.write_book(f"book-{chapters}", chapters)
                results[chapters] = await bench.book(f"book-{chapters}", samples)
            await load_cells(stack, bench, cells, load_seconds, patience)
            for chapters, found in results.items():
                g, limit, naive, cached = (statistics.median(found[k]) for k in ("gateway", "limit", "naive", "cached"))
                print(f"{chapters:3d} chapters  uncached view  {ms(found['gateway'])}")
                print(
                    f"{chapters:3d} chapters  limit          {ms(found['limit'])}   "
                    f"gateway/limit p50 {g / limit:.2f}x (aim <= 1.2x)"
                )
                print(
                    f"{chapters:3d} chapters  naive per-blob {ms(found['naive'])}   "
                    f"naive/gateway p50 {naive / g:.1f}x (aim >= 10x)"
                )
                print(
                    f"{chapters:3d} chapters  cached view    {ms(found['cached'])}   "
                    f"cached/uncached p50 {cached / g:.3f}x (aim <= 0.1x)"
                )
            url = f"{stack.gateway}/api/v1/users/{USER}/books/book-20"
            async with user.get(url) as response:
                body = await response.read()
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
                handle.write(body)
            port = free_port()
            bare = subprocess.Popen([sys.executable, "-c", BARE, str(port), handle.name], cwd=ROOT)
            try:
                await asyncio.sleep(1.0)
                for concurrency in (32, 128):
                    cached_rps = await throughput(url, user_headers, concurrency)
                    bare_rps = await throughput(f"http://127.0.0.1:{port}/view", {}, concurrency)
                    print(
                        f"{concurrency:3d} clients  cached view {cached_rps:7.0f} req/s  "
                        f"bare handler {bare_rps:7.0f} req/s  ratio {cached_rps / bare_rps:.2f}x"
                    )
            finally:
                bare.terminate()
                bare.wait()
                Path(handle.name).unlink(missing_ok=True)
            lags, deliveries = await live(stack, user, samples, 1000)
            print(f"create -> blob.derived on the socket: {ms(lags)} (seeds: < 500 ms; aim < 100 ms)")
            print(f"fan-out to 1000 sockets, {len(deliveries)} deliveries: {ms(deliveries)} (aim: p99 < 100 ms)")


async def load_cells(stack: Stack, bench: Bench, cells: list[tuple[int, int]], seconds: float, patience: float) -> None:
    """Write one book per client for every cell, then run the cells in order."""
    books = {(chapters, n) for chapters, clients in cells for n in range(clients)}
    for chapters, n in sorted(books):
        await bench.write_book(f"load-{chapters}-{n}", chapters, settle=False)
    for chapters, n in sorted(books):
        await bench.settle(f"load-{chapters}-{n}")
    for chapters, clients in cells:
        await under_load(stack, chapters, clients, seconds, patience=patience)


def parse_cells(text: str) -> list[tuple[int, int]]:
    """`100x64,20x1` -> [(100, 64), (20, 1)]: chapters x clients."""
    cells = []
    for cell in text.split(","):
        chapters, _, clients = cell.partition("x")
        cells.append((int(chapters), int(clients)))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--load-seconds", type=float, default=8.0, help="how long each load cell runs, each way")
    parser.add_argument(
        "--cells", type=parse_cells, default=ALL_CELLS, help="only these load cells, e.g. 100x64,20x1 (skips the rest)"
    )
    parser.add_argument("--patience", type=float, default=1.0, help="a shed client waits Retry-After times this")
    args = parser.parse_args()
    asyncio.run(run(args.samples, args.load_seconds, args.cells, args.patience))


if __name__ == "__main__":
    main()
