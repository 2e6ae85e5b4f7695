"""The cluster topology under load: replica scaling, the cross-gateway window, a NATS node killed mid-writes.

Starts its own stack with `STUDIO_TOPOLOGY=cluster` (three NATS nodes, streams of three replicas,
two gateways) and runs text expansion by hand, one instance and then two, each taking at most
`--concurrency` drafts at once (an operator's per-instance limit). Prints:

1. Replica scaling: drafts per second from 1 to 2 instances, against the simulated provider
   (50 tokens/s, 400 ms to the first token) and with the offline expander (no provider at all).
   A draft is done when its `blob.derived` reaches the writer's socket.
2. The cross-gateway window: a chapter written through gateway A; from A's acknowledgement to the
   first book view from gateway B that shows it, polled every 2 ms, with writers loading both
   gateways meanwhile. Also with the `Studio-Consistency` token from A's answer sent to B.
3. A write loop through both gateways while the NATS node leading the stream is killed with -9:
   acknowledged, not acknowledged, lost; every acknowledged draft expanded; the node back and current.

Run from the repository root: .venv/bin/python -m bench.cluster [--drafts N] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import nats

from bench.streaming import SENTENCES, Watcher, pct
from contracts.subjects import STREAM_NAME
from servicekit.auth import issue_token
from studio_testing.fake_openai import provider_process
from studio_testing.harness import ServiceProcess, Stack, free_port, new_stack

DRAFT = " ".join(SENTENCES[:3]) + "\n\n" + " ".join(SENTENCES[3:6])  # two sections of ~50 words


def auth(stack: Stack, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user)}"}


class Instances:
    """Text expansion instances started by hand beside the cluster, all on one database."""

    def __init__(self, stack: Stack, logs: Path) -> None:
        self.stack, self.logs = stack, logs
        self.running: list[ServiceProcess] = []

    async def set(self, count: int, **env: str) -> None:
        self.stop()
        for _ in range(count):
            instance = ServiceProcess.text_expansion(
                self.stack, "bench_cluster", self.logs, STUDIO_PROCESSOR_ACK_WAIT_SECONDS="120", **env
            )
            instance.start()
            self.running.append(instance)
        for instance in self.running:
            await asyncio.to_thread(instance.wait_ready, 60)

    def stop(self) -> None:
        for instance in self.running:
            instance.kill()
        self.running = []


async def throughput(stack: Stack, session: aiohttp.ClientSession, drafts: int, writers: int = 8) -> float:
    """`drafts` drafts written by `writers` writers at once; drafts per second until the last is expanded."""
    users = [f"scale-{uuid.uuid4().hex[:8]}" for _ in range(writers)]
    watchers = [Watcher(stack, user) for user in users]
    for watcher in watchers:
        await watcher.start(session)
    gateways = stack.gateways
    started = time.perf_counter()

    async def write(number: int) -> str:
        watcher = watchers[number % writers]
        async with session.post(
            f"{gateways[number % 2]}/api/v1/blobs",
            headers=auth(stack, watcher.user_id),
            json={"schema_id": "text-input-v1", "data": {"content": f"Draft {number}. {DRAFT}"}},
        ) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["id"])

    ids = await asyncio.gather(*(write(n) for n in range(drafts)))
    deadline = time.monotonic() + 600
    while sum(b in w.done for w in watchers for b in ids) < drafts and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    finished = max(w.done[b] for w in watchers for b in ids if b in w.done)
    for watcher in watchers:
        await watcher.stop()
    return drafts / (finished - started)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes(stack: Stack, instances: Instances) -> dict[str, list[int]]:
    """pids by role: each backing server, the index, the gateways, the expansion instances."""
    info = stack.refresh()
    roles: dict[str, list[int]] = {}
    for name, entry in [
        *info["services"].items(),
        *((n, info[n]) for n in ("mongo", "nats", "nats-2", "nats-3", "postgres") if n in info),
    ]:
        role = "nats (3 nodes)" if name.startswith("nats") else "gateway (2)" if name.startswith("gateway") else name
        roles.setdefault(role, []).append(int(entry["pid"]))
    roles["text-expansion mongo"] = [int(info["mongo-text-expansion"]["pid"])] if "mongo-text-expansion" in info else []
    roles["text expansion"] = [i.process.pid for i in instances.running if i.process is not None]
    return roles


class CpuMeter:
    """The CPU the stack's processes use from its making to `summary()`, by role."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self.roles = roles
        self.before = {role: sum(cpu_seconds(p) for p in pids) for role, pids in roles.items()}
        self.started = time.perf_counter()

    def summary(self, busiest: int = 5) -> str:
        took = time.perf_counter() - self.started
        # A process killed meanwhile took its CPU time with it: its share counts as 0, not as negative.
        used = {
            role: max(0.0, sum(cpu_seconds(p) for p in pids) - self.before[role]) for role, pids in self.roles.items()
        }
        top = sorted(used.items(), key=lambda kv: -kv[1])[:busiest]
        return f"{sum(used.values()) / took:.2f} of {os.cpu_count()} cores busy in the stack; " + ", ".join(
            f"{role} {seconds / took:.2f}" for role, seconds in top
        )


async def scaling(
    stack: Stack, session: aiohttp.ClientSession, instances: Instances, model_url: str, drafts: int, concurrency: int
) -> None:
    print(f"\n1. Replica scaling: {drafts} drafts of 2 sections, each instance taking {concurrency} drafts at once")
    print("| expander | 1 instance | 2 instances | ratio |\n| --- | --- | --- | --- |")
    notes: list[str] = []
    provider = {
        "STUDIO_OPENAI_API_KEY": "bench",
        "STUDIO_OPENAI_BASE_URL": model_url,
    }
    for label, env, count in (("simulated provider", provider, drafts), ("offline", {}, drafts * 4)):
        rates = []
        spent: list[str] = []
        for replicas in (1, 2):
            await instances.set(replicas, STUDIO_TEXT_EXPANSION_CONCURRENCY=str(concurrency), **env)
            await throughput(stack, session, max(8, count // 8))  # warm up: connections, caches, consumers
            meter = CpuMeter(processes(stack, instances))
            rates.append(await throughput(stack, session, count))
            spent.append(f"   {label}, {replicas} instance(s): {meter.summary()}")
        print(
            f"| {label} | {rates[0]:.1f} drafts/s | {rates[1]:.1f} drafts/s | {rates[1] / rates[0]:.2f}x |", flush=True
        )
        notes.extend(spent)
    print("   cores used while measuring (CPU seconds per second, the five busiest):")
    print("\n".join(notes))


async def view_chapters(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    """Chapters in B's book view; a 503 (the gateway shedding load) is asked again after its Retry-After."""
    return len((await book_view(session, url, headers))[0]["chapters"])


async def book_view(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The view and where it came from (X-Cache); 503s are asked again after their Retry-After."""
    while True:
        async with session.get(url, headers=headers) as response:
            if response.status == 503:
                await asyncio.sleep(float(response.headers.get("Retry-After", "0.1")))
                continue
            assert response.status == 200, await response.text()
            return await response.json(), response.headers.get("X-Cache", "")


async def window(
    stack: Stack, session: aiohttp.ClientSession, samples: int, *, token: bool
) -> tuple[list[float], list[float], list[float], int]:
    """From A's acknowledgement of a new chapter to the end of the first view from B that shows it
    (seconds); how long B's views take; from the ack to the write's event on B's socket (B knows
    of it: its cache is dropped); how many first reads after the ack missed the write."""
    a, b = stack.gateways
    user = f"window-{uuid.uuid4().hex[:8]}"
    headers = auth(stack, user)
    found: list[float] = []
    reads: list[float] = []
    heard: list[float] = []
    stale = 0
    arrivals: dict[str, float] = {}
    socket = await session.ws_connect(f"{b}/ws", params={"token": issue_token(stack.secrets["jwt_secret"], user)})

    async def listen() -> None:
        async for message in socket:
            body = message.json()
            if body["type"] == "blob.created":
                arrivals.setdefault(body["blob_id"], time.perf_counter())

    listener = asyncio.create_task(listen())
    for number in range(samples):
        book, chapter = f"window-{number // 10}", number % 10 + 1  # books of 10 chapters: views stay small
        view = f"{b}/api/v1/users/{user}/books/{book}"
        if chapter > 1:
            # Until B serves the book from its cache: the earlier chapters expanded, the view complete
            # (for at most about 3 s: a saturated machine may take longer to expand them).
            warm_until = time.monotonic() + 3.0
            while time.monotonic() < warm_until:
                started = time.perf_counter()
                _, source = await book_view(session, view, headers)
                if source == "hit":
                    break
                reads.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)
        async with session.post(
            f"{a}/api/v1/blobs",
            headers=headers,
            json={
                "schema_id": "text-input-v1",
                "data": {
                    "content": f"Chapter {number}, read back from the other gateway.",
                    "metadata": {"book_id": book, "chapter": chapter},
                },
            },
        ) as response:
            assert response.status == 201, await response.text()
            consistency = response.headers.get("Studio-Consistency", "")
            blob = (await response.json())["id"]
        acknowledged = time.perf_counter()
        read_headers = {**headers, "Studio-Consistency": consistency} if token else headers
        first = True
        while await view_chapters(session, view, read_headers) < chapter:
            stale += first
            first = False
            await asyncio.sleep(0.002)
        found.append(time.perf_counter() - acknowledged)
        while blob not in arrivals:
            await asyncio.sleep(0.001)
        heard.append(arrivals[blob] - acknowledged)
    listener.cancel()
    await socket.close()
    return found, reads, heard, stale


async def background_writers(
    stack: Stack, session: aiohttp.ClientSession, stop: asyncio.Event, writers: int = 4
) -> int:
    """Writers through both gateways at a writer's pace until `stop`; returns how many writes."""
    written = 0

    async def one(number: int) -> None:
        nonlocal written
        user = f"load-{number}-{uuid.uuid4().hex[:6]}"
        chapter = 0
        while not stop.is_set():
            chapter += 1
            try:
                async with session.post(
                    f"{stack.gateways[chapter % 2]}/api/v1/blobs",
                    headers=auth(stack, user),
                    json={
                        "schema_id": "text-input-v1",
                        "data": {
                            "content": f"Load chapter {chapter}, written to keep the gateways busy.",
                            "metadata": {"book_id": "load", "chapter": chapter},
                        },
                    },
                ) as response:
                    written += response.status == 201
            except aiohttp.ClientError:
                pass  # the load is the point, not its answers
            await asyncio.sleep(0.25)  # 4 writers: up to 16 writes/s, about two thirds of what the pipeline expands

    await asyncio.gather(*(one(n) for n in range(writers)))
    return written


async def windows(stack: Stack, session: aiohttp.ClientSession, samples: int) -> None:
    print(f"\n2. Cross-gateway window: ack on A -> B's next book view shows the chapter; {samples} samples each")
    print("   Before each write B holds the book, complete, in its cache; text expansion runs (2 instances).")
    print(
        "| reads from B | load | first read missed the write | visible p50 / p99 / max ms "
        "| event on B p50 / p99 ms | a view built on B p50 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for token in (False, True):
        for loaded in (False, True):
            stop = asyncio.Event()
            load = asyncio.create_task(background_writers(stack, session, stop)) if loaded else None
            started = time.perf_counter()
            found, reads, heard, stale = await window(stack, session, samples, token=token)
            stop.set()
            written = await load if load is not None else 0
            rate = written / (time.perf_counter() - started)
            label = "with A's Studio-Consistency token" if token else "plain"
            ms, event_ms = [x * 1000 for x in found], [x * 1000 for x in heard]
            print(
                f"| {label} | {f'{rate:.0f} writes/s' if loaded else 'quiet'} | {stale} of {samples} "
                f"| {statistics.median(ms):.1f} / {pct(ms, 0.99):.1f} / {max(ms):.1f} "
                f"| {statistics.median(event_ms):.1f} / {pct(event_ms, 0.99):.1f} "
                f"| {statistics.median(reads) * 1000:.1f} |",
                flush=True,
            )


async def stream_info(stack: Stack) -> Any:
    nc = await nats.connect(servers=stack.nats_url.split(","), connect_timeout=2)
    try:
        return await nc.jetstream().stream_info(STREAM_NAME)
    finally:
        await nc.close()


async def node_killed(stack: Stack, session: aiohttp.ClientSession, instances: Instances, seconds: float) -> None:
    await instances.set(2, STUDIO_TEXT_EXPANSION_CONCURRENCY="16")
    user = f"fault-{uuid.uuid4().hex[:8]}"
    victim = (await stream_info(stack)).cluster.leader.removeprefix("studio-")
    acknowledged: list[tuple[str, str]] = []
    latencies: list[float] = []
    refused = 0
    stop_at = time.monotonic() + seconds

    async def loop(number: int) -> None:
        nonlocal refused
        chapter = 0
        while time.monotonic() < stop_at:
            chapter += 1
            book = f"fault-{number}"
            started = time.perf_counter()
            try:
                async with session.post(
                    f"{stack.gateways[chapter % 2]}/api/v1/blobs",
                    headers=auth(stack, user),
                    timeout=aiohttp.ClientTimeout(total=10),
                    json={
                        "schema_id": "text-input-v1",
                        "data": {
                            "content": f"Line {chapter} of the loop, written while a node dies.",
                            "metadata": {"book_id": book, "chapter": chapter},
                        },
                    },
                ) as response:
                    if response.status == 201:
                        acknowledged.append((book, (await response.json())["id"]))
                        latencies.append(time.perf_counter() - started)
                    else:
                        refused += 1
            except (aiohttp.ClientError, TimeoutError):
                refused += 1
            await asyncio.sleep(0.05)

    async def kill() -> None:
        await asyncio.sleep(seconds / 3)
        os.kill(int(stack.refresh()[victim]["pid"]), signal.SIGKILL)

    meter = CpuMeter(processes(stack, instances))
    await asyncio.gather(kill(), *(loop(n) for n in range(8)))
    cores = meter.summary(busiest=6)
    # Every acknowledged write readable through both gateways, and expanded exactly once.
    lost = 0
    for _, blob in acknowledged:
        for gateway in stack.gateways:
            async with session.get(f"{gateway}/api/v1/blobs/{blob}", headers=auth(stack, user)) as response:
                lost += response.status != 200
    service = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    deadline = time.monotonic() + 180
    while True:
        expanded: dict[str, int] = {}
        for number in range(8):
            async with session.get(
                f"{stack.index}/api/v1/blob-index",
                headers=service,
                params={
                    "user_id": user,
                    "book_id": f"fault-{number}",
                    "processor_id": "text-expansion",
                    "limit": "500",
                },
            ) as response:
                for entry in (await response.json())["entries"]:
                    expanded[entry["parent_id"]] = expanded.get(entry["parent_id"], 0) + 1
        if all(b in expanded for _, b in acknowledged) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    waited = time.monotonic()
    while True:  # the node back in the stream's group, and current
        try:
            state = await stream_info(stack)
        except Exception:  # a node still electing: ask again
            await asyncio.sleep(0.2)
            continue
        replicas = [(r.name, r.current, r.lag or 0) for r in state.cluster.replicas or []]
        if (
            len(replicas) == 2 and all(current and not lag for _, current, lag in replicas)
        ) or time.monotonic() - waited > 120:
            break
        await asyncio.sleep(0.2)
    waited = time.monotonic() - waited
    missing = sum(b not in expanded for _, b in acknowledged)
    twice = sum(expanded.get(b, 0) > 1 for _, b in acknowledged)
    ms = [x * 1000 for x in latencies] or [float("nan")]
    print(
        f"\n3. kill -9 of {victim} (the stream's leader) {seconds / 3:.0f} s into {seconds:.0f} s "
        "of writes through both gateways (8 writers)"
    )
    print(
        f"   acknowledged {len(acknowledged)}, not acknowledged {refused}, lost {lost}; "
        f"not expanded {missing}, expanded twice {twice}"
    )
    print(f"   write latency p50 {statistics.median(ms):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms")
    print(
        f"   stream leader now {state.cluster.leader}; replicas (name, current, lag): {replicas}, "
        f"after {waited:.1f} s more; restarts of {victim}: {stack.refresh()[victim]['restarts']}"
    )
    print(f"   during the loop: {cores}")


async def run(drafts: int, samples: int, concurrency: int, parts: set[str]) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    model_port = free_port()
    model = provider_process(model_port, data_dir / "model.log")
    stack = new_stack(STUDIO_TOPOLOGY="cluster", STUDIO_PROCESSORS="")
    stack.start()
    instances = Instances(stack, data_dir)
    print(
        f"cluster: {len(stack.nats_url.split(','))} NATS nodes, {len(stack.gateways)} gateways; {os.cpu_count()} cores"
    )
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            if "scaling" in parts:
                await scaling(stack, session, instances, f"http://127.0.0.1:{model_port}/v1", drafts, concurrency)
            if "window" in parts:
                await instances.set(2)
                await windows(stack, session, samples)
            if "fault" in parts:
                await node_killed(stack, session, instances, 15.0)
    finally:
        instances.stop()
        stack.stop()
        model.kill()
        shutil.rmtree(stack.data_dir, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--drafts", type=int, default=96, help="drafts per scaling run against the provider (offline: 4x)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="drafts each instance takes at once")
    parser.add_argument("--samples", type=int, default=200, help="samples per cross-gateway window row")
    parser.add_argument(
        "--only", action="append", choices=("scaling", "window", "fault"), help="run only this part; repeatable"
    )
    args = parser.parse_args()
    asyncio.run(run(args.drafts, args.samples, args.concurrency, set(args.only or ("scaling", "window", "fault"))))


if __name__ == "__main__":
    main()
