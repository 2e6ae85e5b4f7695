"""Text expansion (offline expander) on the embedded stack: throughput with 1 and 2 instances,
create-to-derived-registered latency, and memory per processor process.

Throughput is measured twice: with the offline expander (the shared database sets the pace) and
with the `openai` client against a local model server that takes 250 ms a call (the processor sets
it). Each is the drain rate of a backlog: N drafts are written while no instance runs, then the
instances start; the rate runs from the first expansion registered in the index to the last. Latency
is from the 201 of a draft to the `blob.created.expanded-text-v1` event the index publishes when
the expansion is registered, one draft at a time on an idle processor.

Run from the repository root: .venv/bin/python -m bench.processors [--drafts N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import nats
from aiohttp import web

from studio_testing.fake_openai import FakeProvider
from studio_testing.harness import ServiceProcess, Stack, free_port, new_stack

SENTENCE = "The tide came in over the causeway while the lamp turned above the harbour wall. "


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Bench:
    def __init__(self, stack: Stack, logs: Path) -> None:
        self.stack = stack
        self.logs = logs
        self.headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
        self.model_env: dict[str, str] = {}

    def processor(self, database: str) -> ServiceProcess:
        port = free_port()
        env = {
            "STUDIO_SERVICE_TOKEN": self.stack.secrets["service_token"],
            "STUDIO_TEXT_EXPANSION_PORT": str(port),
            "STUDIO_TEXT_EXPANSION_MONGO_URL": self.stack.mongo_url,
            "STUDIO_TEXT_EXPANSION_DATABASE": database,
            "STUDIO_INDEX_URL": self.stack.index,
            "STUDIO_NATS_URL": self.stack.nats_url,
            **self.model_env,
        }
        return ServiceProcess("processors.text_expansion", env, self.logs / f"te-{port}.log", port)

    async def post(self, session: aiohttp.ClientSession, user_id: str, n: int) -> str:
        body = {"user_id": user_id, "schema_id": "text-input-v1", "data": {"content": f"{n}. " + SENTENCE * 4}}
        async with session.post(self.stack.index + "/api/v1/blobs", json=body) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["id"])

    async def drain_rate(self, instances: int, drafts: int) -> tuple[float, list[float]]:
        user_id = f"bench-drain-{instances}-{time.time_ns()}"
        done = asyncio.Event()
        seen: set[str] = set()
        stamps: list[float] = []
        nc = await nats.connect(self.stack.nats_url)

        async def on_event(msg: Any) -> None:
            # The index announces each registration; counting events keeps the bench off the index.
            event = msgspec.json.decode(msg.data)
            if event.get("user_id") == user_id and event["parent_id"] not in seen:
                seen.add(event["parent_id"])
                stamps.append(time.perf_counter())
                if len(seen) >= drafts:
                    done.set()

        await nc.subscribe("blob.created.expanded-text-v1", cb=on_event)
        try:
            async with aiohttp.ClientSession(headers=self.headers) as session:
                semaphore = asyncio.Semaphore(8)

                async def post(n: int) -> str:
                    async with semaphore:
                        return await self.post(session, user_id, n)

                await asyncio.gather(*(post(n) for n in range(drafts)))
            processes = [self.processor("bench_text_expansion") for _ in range(instances)]
            for process in processes:
                process.start()
            await asyncio.wait_for(done.wait(), timeout=600)
            # From the first expansion to the last: the steady drain, without the instances' start-up.
            elapsed = stamps[-1] - stamps[0]
            memory = [rss_mib(p.process.pid) for p in processes if p.process is not None]
            for process in processes:
                process.kill()
        finally:
            await nc.drain()
        return (drafts - 1) / elapsed, memory

    async def latency(self, samples: int) -> tuple[list[float], float]:
        user_id = f"bench-latency-{time.time_ns()}"
        process = self.processor("bench_text_expansion")
        process.start()
        await asyncio.to_thread(process.wait_ready)
        arrived: dict[str, float] = {}
        nc = await nats.connect(self.stack.nats_url)

        async def on_event(msg: Any) -> None:
            event = msgspec.json.decode(msg.data)
            if event.get("user_id") == user_id:
                arrived[event["parent_id"]] = time.perf_counter()

        await nc.subscribe("blob.created.expanded-text-v1", cb=on_event)
        lags: list[float] = []
        try:
            async with aiohttp.ClientSession(headers=self.headers) as session:
                for n in range(samples):
                    parent = await self.post(session, user_id, n)
                    created = time.perf_counter()
                    while parent not in arrived:
                        await asyncio.sleep(0.0005)
                    lags.append(arrived[parent] - created)
            assert process.process is not None
            return lags, rss_mib(process.process.pid)
        finally:
            await nc.drain()
            process.kill()


async def run(drafts: int, samples: int) -> None:
    stack = new_stack(STUDIO_PROCESSORS="")
    stack.start()
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    try:
        bench = Bench(stack, logs)
        await bench.drain_rate(1, 20)  # warm caches and create the durable consumers
        one, memory_one = await bench.drain_rate(1, drafts)
        two, memory_two = await bench.drain_rate(2, drafts)
        print(f"drain of {drafts} drafts, 1 instance:  {one:7.1f} drafts/s")
        print(f"drain of {drafts} drafts, 2 instances: {two:7.1f} drafts/s  ({two / one:.2f}x of 1 instance)")
        # With a model that takes its time the processor, not the database, sets the pace:
        # the real `openai` client against a local OpenAI-compatible server answering in 250 ms.
        fake = FakeProvider(delay=0.25)
        runner = web.AppRunner(fake.app())
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        bench.model_env = {"STUDIO_OPENAI_API_KEY": "bench", "STUDIO_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        slow_one, _ = await bench.drain_rate(1, drafts // 4)
        slow_two, _ = await bench.drain_rate(2, drafts // 4)
        await runner.cleanup()
        bench.model_env = {}
        print(f"model taking 250 ms, {drafts // 4} drafts, 1 instance:  {slow_one:7.1f} drafts/s")
        print(
            f"model taking 250 ms, {drafts // 4} drafts, 2 instances: {slow_two:7.1f} drafts/s  "
            f"({slow_two / slow_one:.2f}x of 1 instance)"
        )
        lags, memory_idle = await bench.latency(samples)
        print(
            f"create -> derived registered (event), {samples} drafts one at a time: "
            f"p50 {statistics.median(lags) * 1e3:.1f} ms, p99 {pct(lags, 0.99) * 1e3:.1f} ms "
            f"(seeds ask < 500 ms; aim < 100 ms)"
        )
        info = stack.refresh()
        others = {name: rss_mib(entry["pid"]) for name, entry in info["services"].items()}
        print(
            "memory (RSS): text expansion "
            f"{memory_idle:.0f} MiB after the latency run; {statistics.mean(memory_one):.0f} MiB after draining alone, "
            f"{statistics.mean(memory_two):.0f} MiB each with two; "
            + ", ".join(f"{n} {m:.0f} MiB" for n, m in others.items())
        )
    finally:
        stack.stop()
        shutil.rmtree(stack.data_dir, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=400)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.drafts, args.samples))


if __name__ == "__main__":
    main()
