"""Streamed expansion against a provider that behaves like a hosted one (50 tokens/s, 400 ms to the first).

Starts its own stack (gateway and index), the simulated provider in a process of its own, and text
expansion pointed at it, restarted with each setting. Every time is a client's: from just before
`POST /api/v1/blobs` to the first `blob.progress` of that draft on the writer's socket, and to its
`blob.derived` there. Prints:

- a 1,000-word draft of 8 paragraphs: first delta and completion (p50/p99), sections 40 words;
- completion at 1, 4, 8, 16, 32 sections at once per draft (1 is the serial yardstick);
- the cost streaming adds: the same expansions with streaming (and progress) off;
- one gateway delivering progress to 100 sockets, each watching its own expansion (end to end, and
  the gateway alone, with progress published straight to the stream as fast as NATS takes it).

Run from the repository root: .venv/bin/python -m bench.streaming [--samples N] [--sockets N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import msgspec
import nats

from contracts import subjects
from contracts.events import BlobProgress
from servicekit.auth import issue_token
from studio_testing.fake_openai import provider_process
from studio_testing.harness import ServiceProcess, Stack, free_port, new_stack

SENTENCES = [
    "Mara carried the salt-stained ledger up the lighthouse stairs while the storm gathered over the bay.",
    "Each entry named a ship, a captain and a cargo, and none of them had ever come home.",
    "The keeper watched her from the lamp room and said nothing about the missing pages.",
    "Below them the ferry strained against its ropes as the tide turned toward the harbour wall.",
    "She read until the candle guttered and the words began to swim in the weak yellow light.",
    "By morning she knew which name had been scratched out and who had done the scratching.",
    "The town would not thank her for it, but the dead deserved their names back.",
    "She closed the ledger, tucked it under her coat and went down to wake the harbourmaster.",
]


def chapter(paragraphs: int = 8, words: int = 1000) -> str:
    """About `words` words in `paragraphs` paragraphs, each sentence different in its paragraph."""
    per = words // paragraphs
    found = []
    for p in range(paragraphs):
        text: list[str] = []
        n = 0
        while sum(len(s.split()) for s in text) < per:
            text.append(SENTENCES[(p + n) % len(SENTENCES)])
            n += 1
        found.append(" ".join(text))
    return "\n\n".join(found)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Watcher:
    """One user's socket; records when each draft's first delta and its blob.derived arrived."""

    def __init__(self, stack: Stack, user_id: str) -> None:
        self.stack = stack
        self.user_id = user_id
        self.first: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.progress = 0
        self.text = ""
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._task = asyncio.create_task(self._run())
        await self.ready.wait()

    async def _run(self) -> None:
        assert self._session is not None
        token = issue_token(self.stack.secrets["jwt_secret"], self.user_id)
        async with self._session.ws_connect(f"{self.stack.gateway}/ws", params={"token": token}, max_msg_size=0) as ws:
            async for message in ws:
                body = message.json()
                now = time.perf_counter()
                if body["type"] == "ready":
                    self.ready.set()
                elif body["type"] == "blob.progress":
                    self.progress += 1
                    self.text += body["delta"]
                    self.first.setdefault(body["parent_id"], now)
                elif body["type"] == "blob.derived":
                    self.done.setdefault(body["parent_id"], now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Bench:
    def __init__(self, stack: Stack, logs: Path, model_url: str) -> None:
        self.stack = stack
        self.logs = logs
        self.model_url = model_url
        self.expansion: ServiceProcess | None = None

    async def expansion_with(self, **env: str) -> None:
        """Text expansion (re)started with these settings."""
        if self.expansion is not None:
            self.expansion.kill()
        self.expansion = ServiceProcess.text_expansion(
            self.stack,
            "bench_streaming",
            self.logs,
            STUDIO_OPENAI_API_KEY="bench",
            STUDIO_OPENAI_BASE_URL=self.model_url,
            STUDIO_TEXT_EXPANSION_CONCURRENCY="128",
            STUDIO_TEXT_EXPANSION_SECTIONS_AT_ONCE="4096",
            STUDIO_PROCESSOR_ACK_WAIT_SECONDS="120",
            **env,
        )
        self.expansion.start()
        await asyncio.to_thread(self.expansion.wait_ready, 60)

    async def drafts(
        self, session: aiohttp.ClientSession, text: str, count: int, *, users: int = 1
    ) -> tuple[list[float], list[float], int]:
        """`count` drafts one after another (or `users` writers at once, one draft each);
        first-delta and completion seconds."""
        writers = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(users)]
        watchers = [Watcher(self.stack, user) for user in writers]
        for watcher in watchers:
            await watcher.start(session)
        firsts: list[float] = []
        totals: list[float] = []

        async def write(watcher: Watcher) -> None:
            headers = {"Authorization": f"Bearer {issue_token(self.stack.secrets['jwt_secret'], watcher.user_id)}"}
            started = time.perf_counter()
            async with session.post(
                f"{self.stack.gateway}/api/v1/blobs",
                headers=headers,
                json={"schema_id": "text-input-v1", "data": {"content": text}},
            ) as response:
                assert response.status == 201, await response.text()
                blob_id = (await response.json())["id"]
            deadline = time.monotonic() + 600
            while blob_id not in watcher.done and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            totals.append(watcher.done[blob_id] - started)
            if blob_id in watcher.first:
                firsts.append(watcher.first[blob_id] - started)

        try:
            if users == 1:
                for _ in range(count):
                    await write(watchers[0])
            else:
                await asyncio.gather(*(write(w) for w in watchers))
        finally:
            for watcher in watchers:
                await watcher.stop()
        return firsts, totals, sum(w.progress for w in watchers)


async def gateway_counter(session: aiohttp.ClientSession, stack: Stack, name: str) -> float:
    async with session.get(f"{stack.gateway}/metrics", headers=stack.metrics_headers) as response:
        text = await response.text()
    line = next((row for row in text.splitlines() if row.startswith(name + " ")), "")
    return float(line.split()[1]) if line else 0.0


async def run(samples: int, sockets: int, only_sockets: bool) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    model_port = free_port()
    model = provider_process(model_port, data_dir / "model.log")
    stack = new_stack(STUDIO_PROCESSORS="")
    stack.start()
    bench = Bench(stack, data_dir, f"http://127.0.0.1:{model_port}/v1")
    text = chapter()
    print(
        f"draft: {len(text.split())} words, {text.count(chr(10) * 2) + 1} paragraphs; "
        "provider 50 tokens/s, 400 ms to the first token"
    )
    try:
        # No pool limit: a hundred sockets must not take every connection the writers need.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            if not only_sockets:
                await drafts_table(bench, session, text, samples)
            await bench.expansion_with(
                STUDIO_TEXT_EXPANSION_SECTION_WORDS="40", STUDIO_TEXT_EXPANSION_SECTIONS_PER_DRAFT="8"
            )
            short = "\n\n".join([SENTENCES[0] + " " + SENTENCES[1], SENTENCES[2] + " " + SENTENCES[3]])
            published = await gateway_counter(session, stack, "studio_gateway_progress_total")
            coalesced = await gateway_counter(session, stack, "studio_gateway_progress_coalesced_total")
            started = time.perf_counter()
            firsts, totals, delivered = await bench.drafts(session, short, 1, users=sockets)
            took = max(totals)
            published = await gateway_counter(session, stack, "studio_gateway_progress_total") - published
            coalesced = await gateway_counter(session, stack, "studio_gateway_progress_coalesced_total") - coalesced
            print(
                f"\n{sockets} sockets, each watching its own expansion "
                f"({len(short.split())}-word drafts, all at once): "
                f"{delivered} progress messages delivered in {took:.1f} s = {delivered / took:.0f}/s "
                f"(the gateway received {published:.0f}, joined {coalesced:.0f} for sockets behind); "
                "first delta p50/p99 "
                f"{pct(firsts, 0.5) * 1000:.0f} / {pct(firsts, 0.99) * 1000:.0f} ms; "
                f"complete p50/p99 {pct(totals, 0.5):.2f} / {pct(totals, 0.99):.2f} s; "
                f"wall {time.perf_counter() - started:.1f} s"
            )
            await gateway_fan_out(session, stack, sockets)
    finally:
        if bench.expansion is not None:
            bench.expansion.kill()
        stack.stop()
        model.terminate()
        model.wait(10)
        shutil.rmtree(stack.data_dir, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


async def gateway_fan_out(session: aiohttp.ClientSession, stack: Stack, sockets: int, messages: int = 40_000) -> None:
    """The gateway alone: progress published straight to the stream for `sockets` users as fast as
    NATS takes it, each user's socket counting what arrives and checking nothing is lost."""
    users = [f"fan-{uuid.uuid4().hex[:10]}" for _ in range(sockets)]
    watchers = [Watcher(stack, user) for user in users]
    for watcher in watchers:
        await watcher.start(session)
    texts: dict[str, list[str]] = {u: [] for u in users}
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    started = time.perf_counter()
    pending = []
    for n in range(messages):
        user = users[n % sockets]
        delta = f"w{n // sockets} "
        texts[user].append(delta)
        event = BlobProgress(
            user_id=user,
            parent_id="b1",
            parent_version=1,
            derived_id="d1",
            processor_id="text-expansion",
            attempt=1,
            section=0,
            sections=1,
            seq=n // sockets + 1,
            delta=delta,
            occurred_at=datetime.now(UTC),
        )
        pending.append(js.publish(subjects.progress(user, "b1", "text-expansion"), msgspec.json.encode(event)))
        if len(pending) >= 500:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    published = time.perf_counter() - started
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any("".join(texts[w.user_id]) != w.text for w in watchers):
        await asyncio.sleep(0.05)
    took = time.perf_counter() - started
    whole = sum("".join(texts[w.user_id]) == w.text for w in watchers)
    received = sum(w.progress for w in watchers)
    for watcher in watchers:
        await watcher.stop()
    await nc.drain()
    print(
        f"the gateway alone, {sockets} sockets: {messages} progress messages published in {published:.1f} s; "
        "every socket "
        f"had its text whole after {took:.1f} s ({whole}/{sockets} whole) = {messages / took:.0f} messages/s "
        "through one "
        f"gateway, in {received} socket messages ({messages - received} joined for sockets behind)"
    )


async def drafts_table(bench: Bench, session: aiohttp.ClientSession, text: str, samples: int) -> None:
    """The 1,000-word draft at each concurrency, and with streaming off."""
    print("\n| setting | drafts | first delta p50 / p99 ms | complete p50 / p99 s |")
    print("| --- | --- | --- | --- |")
    results: dict[str, float] = {}
    for per_draft in (32, 16, 8, 4, 1):
        await bench.expansion_with(
            STUDIO_TEXT_EXPANSION_SECTION_WORDS="40", STUDIO_TEXT_EXPANSION_SECTIONS_PER_DRAFT=str(per_draft)
        )
        count = 1 if per_draft == 1 else (samples * 4 if per_draft == 32 else samples)
        firsts, totals, _ = await bench.drafts(session, text, count)
        results[f"streaming-{per_draft}"] = statistics.median(totals)
        label = f"40-word sections, {per_draft} at once" + (" (serial yardstick)" if per_draft == 1 else "")
        print(
            f"| {label} | {count} | {pct(firsts, 0.5) * 1000:.0f} / {pct(firsts, 0.99) * 1000:.0f} "
            f"| {pct(totals, 0.5):.2f} / {pct(totals, 0.99):.2f} |",
            flush=True,
        )
    await bench.expansion_with(
        STUDIO_TEXT_EXPANSION_SECTION_WORDS="40",
        STUDIO_TEXT_EXPANSION_SECTIONS_PER_DRAFT="32",
        STUDIO_TEXT_EXPANSION_STREAMING="false",
    )
    _, totals, progress = await bench.drafts(session, text, samples * 2)
    results["whole-32"] = statistics.median(totals)
    print(
        f"| streaming and progress off, 32 at once | {samples * 2} | - ({progress} messages) "
        f"| {pct(totals, 0.5):.2f} / {pct(totals, 0.99):.2f} |"
    )
    print(
        f"\nserial / 32 at once: {results['streaming-1'] / results['streaming-32']:.1f}x faster; "
        f"streaming on / off at 32: {results['streaming-32'] / results['whole-32']:.3f}x "
        f"({(results['streaming-32'] - results['whole-32']) * 1000:+.0f} ms at p50)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5, help="drafts per setting (four times that at 32 at once)")
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--only-sockets", action="store_true", help="only the many-sockets measurement")
    args = parser.parse_args()
    asyncio.run(run(args.samples, args.sockets, args.only_sockets))


if __name__ == "__main__":
    main()
