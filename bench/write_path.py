"""POST /api/v1/blobs through the gateway against a bare aiohttp handler, side by side in one run.

Starts its own stack (embedded servers on free ports) and a bare aiohttp server in its own process
that answers 201 with a body of the same size; the index service is also measured on its own, to
show what the gateway's hop adds. For 1 and 32 concurrent clients it prints p50/p99
latency and requests/s of both and their ratios, then the time from a 201 to the event's arrival
at a JetStream consumer (p50/p99).

Run from the repository root: .venv/bin/python -m bench.write_path [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

import aiohttp
import nats
from nats.js.api import DeliverPolicy

from servicekit.auth import issue_token
from studio_testing.harness import ROOT, free_port, new_stack

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    body = b"x" * int(sys.argv[2])
    async def handler(request):
        await request.read()
        return web.Response(status=201, body=body, content_type="application/json")
    app = web.Application()
    app.router.add_post("/api/v1/blobs", handler)
    app.router.add_get("/healthz", lambda r: web.Response(text="ok"))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


def draft(i: int, user_id: str | None = None) -> dict[str, Any]:
    sentence = "The tide came in over the causeway while the lamp turned above them. "
    body: dict[str, Any] = {
        "schema_id": "text-input-v1",
        "data": {"content": f"{i}: " + (sentence * 13)[:900], "metadata": {"style": "creative"}},
    }
    if user_id is not None:
        body["user_id"] = user_id  # the index service's internal body names the user
    return body


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(
    url: str, headers: dict[str, str], concurrency: int, total: int, user_id: str | None = None
) -> tuple[list[float], float, list[tuple[str, float]]]:
    """Send `total` POSTs from `concurrency` workers; latencies (s), requests/s, (blob id, 201 time)."""
    latencies: list[float] = []
    acked: list[tuple[str, float]] = []
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def worker() -> None:
            for i in counter:
                started = time.perf_counter()
                async with session.post(url, json=draft(i, user_id)) as response:
                    body = await response.read()
                    assert response.status == 201, body[:200]
                done = time.perf_counter()
                latencies.append(done - started)
                if body.startswith(b"{"):
                    acked.append((msgspec_id(body), time.time()))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, total / elapsed, acked


def msgspec_id(body: bytes) -> str:
    import msgspec

    return str(msgspec.json.decode(body)["id"])


async def wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def run(requests: int, with_processors: bool) -> None:
    # By default no processor runs: they would consume every draft and share the one embedded
    # database server with the write path being measured.
    stack = new_stack() if with_processors else new_stack(STUDIO_PROCESSORS="")
    stack.start()
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(bare_port), "560"], cwd=ROOT)
    nc = await nats.connect(stack.nats_url)
    try:
        await wait_http(f"http://127.0.0.1:{bare_port}")
        arrivals: dict[str, float] = {}

        async def on_event(msg: Any) -> None:
            import msgspec

            arrivals[msgspec.json.decode(msg.data)["blob_id"]] = time.time()
            await msg.ack()

        await nc.jetstream().subscribe(
            "blob.created.text-input-v1", cb=on_event, deliver_policy=DeliverPolicy.NEW, manual_ack=True
        )
        token = issue_token(stack.secrets["jwt_secret"], "bench-writer")
        gateway = (f"{stack.gateway}/api/v1/blobs", {"Authorization": f"Bearer {token}"})
        bare_target = (f"http://127.0.0.1:{bare_port}/api/v1/blobs", {})
        index_target = (f"{stack.index}/api/v1/blobs", {"Authorization": f"Bearer {stack.secrets['service_token']}"})
        await load(*gateway, 4, 100)  # warm both paths: connections, caches, JIT-free but page-cache warm
        await load(*bare_target, 4, 100)
        acked_by_phase: dict[int, list[tuple[str, float]]] = {}
        print(f"{'clients':>7} {'target':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        for concurrency in (1, 32):
            n = requests if concurrency > 1 else max(200, requests // 5)
            g_lat, g_rps, acked = await load(*gateway, concurrency, n)
            b_lat, b_rps, _ = await load(*bare_target, concurrency, n)
            i_lat, i_rps, _ = await load(*index_target, concurrency, n, "bench-writer")
            acked_by_phase[concurrency] = acked
            for name, lat, rps in (("gateway", g_lat, g_rps), ("index", i_lat, i_rps), ("bare", b_lat, b_rps)):
                print(f"{concurrency:>7} {name:>8} {pct(lat, 0.5) * 1e3:8.2f} {pct(lat, 0.99) * 1e3:8.2f} {rps:8.0f}")
            print(
                f"{concurrency:>7} {'ratio':>8} {pct(g_lat, 0.5) / pct(b_lat, 0.5):8.1f}x "
                f"{pct(g_lat, 0.99) / pct(b_lat, 0.99):7.1f}x "
                f"{g_rps / b_rps:8.2f}x  (gateway / bare)"
            )
            print(
                f"{concurrency:>7} {'ratio':>8} {pct(g_lat, 0.5) / pct(i_lat, 0.5):8.1f}x "
                f"{pct(g_lat, 0.99) / pct(i_lat, 0.99):7.1f}x {g_rps / i_rps:8.2f}x  (gateway / index alone)"
            )
        await asyncio.sleep(2.0)
        for concurrency, acked in acked_by_phase.items():
            lags = [arrivals[i] - t for i, t in acked if i in arrivals]
            missing = len(acked) - len(lags)
            print(
                f"{concurrency:>2} clients: 201 -> event at a JetStream consumer: "
                f"p50 {statistics.median(lags) * 1e3:.2f} ms, "
                f"p99 {pct(lags, 0.99) * 1e3:.2f} ms over {len(lags)} writes ({missing} events not seen)"
            )
    finally:
        await nc.drain()
        bare.terminate()
        bare.wait()
        stack.stop()
        shutil.rmtree(stack.data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="requests at 32 clients (1 client: a fifth)")
    parser.add_argument("--with-processors", action="store_true", help="run every processor too, consuming each draft")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.with_processors))


if __name__ == "__main__":
    main()
