"""A hundred writers at once: the product's promises measured under a real day's work.

Starts the whole stack as `make up` starts it (every processor), with text expansion and the pitch
builder writing through the simulated OpenAI-compatible provider (50 tokens/s, 400 ms to the first
token; a process of its own). Before the clock starts, each writer makes a book of 20-40 chapters
and pitch notes through the public API, and opens a socket per device (a third of the writers have
two devices open); the expansions of all that are awaited. Then, for `--minutes`, each writer works
as a person does (see `bench/day/plan.py`): types and autosaves the open chapter every few seconds
with its version, reads the book view (with the consistency token, as the studio does) and the blob
list, opens, renames and now and then deletes a chapter, pastes in a new 1,000-word chapter and waits
for its expansion, compiles the book and downloads a file, edits the pitch notes, and sometimes
sends a save the schema refuses. At most `--in-flight` requests are in flight; only 127.0.0.1 is
used; the run stops by itself.

Prints per operation count, p50/p95/p99/max and answers; the promises beside their targets; each
process's CPU seconds and memory (peak, end, slope over the second half: a leak grows steadily); the
gateway's event-loop lag; every durable consumer's backlog over time; how long text expansion took to
catch up once the writers stopped. `--profile SERVICE` samples that service with py-spy meanwhile.
`--writers 25,50,100,200` runs each count on a fresh stack and ends with the promises side by side.

Run from the repository root:
    .venv/bin/python -m bench.day --writers 100 --minutes 10        # the full form
    .venv/bin/python -m bench.day --writers 10 --minutes 1          # what `make bench` runs
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import nats

from bench.measure import pct
from studio_testing.fake_openai import provider_process
from studio_testing.harness import Stack, free_port, running_stack

from .profile import Profile
from .record import PROMISES, Record
from .system import Sampler, processes
from .writer import Shared, Writer

SETUP_AT_ONCE = 16  # writers making their books at the same time


@dataclass(frozen=True)
class Outcome:
    writers: int
    record: Record
    histograms: str


def _loopback(stack: Stack) -> None:
    for url in (stack.gateway, stack.index, stack.nats_url):
        host = urlsplit(url.split(",")[0]).hostname
        assert host in ("127.0.0.1", "localhost"), (
            f"{url} is not this machine: the benchmark runs against 127.0.0.1 only"
        )


async def _settle(sampler: Sampler, seconds: float) -> tuple[float, dict[str, int]]:
    """Wait until every durable consumer is caught up (twice in a row), at most `seconds`; how long
    it took, and what was still behind when the wait ended (nothing if it caught up)."""
    started = time.monotonic()
    quiet = 0
    behind: dict[str, int] = {}
    while time.monotonic() - started < seconds:
        behind = {name: n for name, n in (await sampler.consumers()).items() if n}
        quiet = quiet + 1 if not behind else 0
        if quiet >= 2:
            break
        await asyncio.sleep(2)
    return time.monotonic() - started, behind


async def day(
    count: int, minutes: float, *, seed: int, in_flight: int, settle_minutes: float, profile: str | None, work: Path
) -> Outcome:
    port = free_port()
    provider = provider_process(port, work / f"provider-{count}.log", tokens_per_second=50, first_token_seconds=0.4)
    model = {"STUDIO_OPENAI_API_KEY": "bench", "STUDIO_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    try:
        with running_stack(**model) as stack:
            _loopback(stack)
            nc = await nats.connect(stack.nats_url)
            connector = aiohttp.TCPConnector(limit=0)
            timeout = aiohttp.ClientTimeout(total=120)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                outcome = await _measured(
                    stack,
                    session,
                    nc.jetstream(),
                    count,
                    minutes,
                    seed=seed,
                    in_flight=in_flight,
                    settle_minutes=settle_minutes,
                    profile=profile,
                    work=work,
                    extra={"simulated provider": provider.pid, "this benchmark": os.getpid()},
                )
            await nc.drain()
            return outcome
    finally:
        provider.kill()  # it would wait for the streams still open
        provider.wait(10)


async def _measured(
    stack: Stack,
    session: aiohttp.ClientSession,
    js: nats.js.JetStreamContext,
    count: int,
    minutes: float,
    *,
    seed: int,
    in_flight: int,
    settle_minutes: float,
    profile: str | None,
    work: Path,
    extra: dict[str, int],
) -> Outcome:
    shared = Shared(stack, session, Record(), asyncio.Semaphore(in_flight))
    writers = [Writer(shared, n, seed) for n in range(count)]
    print(
        f"\n## {count} writers, {minutes:g} minutes (seed {seed}, at most {in_flight} requests in flight)\n", flush=True
    )
    started = time.monotonic()
    gate = asyncio.Semaphore(SETUP_AT_ONCE)

    async def setup(writer: Writer) -> None:
        async with gate:
            await writer.setup()

    await asyncio.gather(*(setup(w) for w in writers))
    chapters = sum(len(w.chapters) for w in writers)
    setup_errors = shared.record.errors()[0]
    made = time.monotonic() - started
    sampler = Sampler(stack, processes(stack, extra), js)
    settled, left = await _settle(sampler, settle_minutes * 60)
    caught_up = (
        f"every consumer caught up {settled:.0f} s later"
        if not left
        else f"not caught up when the {settled:.0f} s wait ended: "
        + ", ".join(f"{name} {n}" for name, n in sorted(left.items()))
    )
    print(
        f"before the clock: {chapters} chapters and {count} pitch notes made in {made:.0f} s ({setup_errors} errors), "
        f"{sum(len(w.devices) for w in writers)} sockets open, {caught_up}",
        flush=True,
    )

    shared.record = Record()  # the day's record starts with the clock
    await sampler.start(session)
    spies: dict[str, Profile] = {}
    info = stack.refresh()
    for name in (profile or "").split(",") if profile else []:
        pid = int((info["services"].get(name) or info[name])["pid"])
        spies[name] = Profile(pid, minutes * 60, work / f"profile-{name}-{count}.txt")
        if not await spies[name].start():
            print("(py-spy is not installed: no profile)")
            spies.pop(name)
    until = time.monotonic() + minutes * 60
    await asyncio.gather(*(w.run(until) for w in writers))
    seconds = await sampler.stop(session)
    record = shared.record
    record.late_expansions = sum(len(w.probes) for w in writers)
    behind = await sampler.consumers()
    drained, still = await _settle(sampler, 600)
    shared.stopping.set()
    await asyncio.gather(*(w.close() for w in writers))
    for spy in spies.values():
        await spy.wait()

    print("\nThe promises:\n")
    print(record.promises_table(count))
    print(
        f"\n{record.late_expansions} 1,000-word drafts were still waiting for their expansion when the clock stopped."
    )
    print("\nOther times:\n")
    print(record.timings_table())
    print("\nOperations:\n")
    print(record.operations_table(seconds / 60))
    print(f"\nsocket messages: {dict(record.socket_messages.most_common())}; reconnects: {record.reconnects}")
    for (processor, reason), count in record.gave_up.most_common(10):
        print(f"  gave up {count} times: {processor}: {reason}")
    print("\nLatencies the services report (from their histograms):\n")
    print(sampler.histograms_table())
    print("\nWhat the index was asked:\n")
    print(sampler.index_calls(seconds))
    print("\nProcesses (CPU over the run; memory sampled every 2 s):\n")
    print(sampler.resources_table(seconds))
    print("\nDurable consumers, messages not yet handled:\n")
    print(sampler.backlog_table())
    behind_text = ", ".join(f"{k} {v}" for k, v in behind.items() if v) or "nothing"
    after = (
        f"caught up {drained:.0f} s later"
        if not still
        else f"still behind {drained:.0f} s later: " + ", ".join(f"{k} {v}" for k, v in sorted(still.items()))
    )
    print(f"\nwhen the writers stopped, behind: {behind_text}; {after}")
    for name, spy in spies.items():
        print(f"\nProfile of {name} over the run (py-spy):\n")
        print(spy.summary())
    return Outcome(count, record, sampler.histograms_table())


def knee(outcomes: list[Outcome]) -> str:
    """The promises at each writer count, side by side."""
    head = "| promise | target | " + " | ".join(f"{o.writers} writers p50 / p99" for o in outcomes) + " |"
    rows = [head, "| --- | --- | " + " | ".join("---" for _ in outcomes) + " |"]
    for promise in PROMISES:
        cells = []
        for o in outcomes:
            values = o.record.samples[promise.name]
            p50, p99 = pct(values, 0.5), pct(values, 0.99)
            cells.append(
                "-" if not values else f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms{'' if p99 < promise.limit else ' ✗'}"
            )
        rows.append(f"| {promise.name} | {promise.target} | " + " | ".join(cells) + " |")
    cells = []
    for o in outcomes:
        wrong, server = o.record.errors()
        total = o.record.requests()
        cells.append(f"{wrong / total:.2%} ({server} 5xx)" if total else "-")
    rows.append("| errors | < 1 %, no 5xx | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    # Stopped with SIGTERM (kill, a CI timeout), unwind as for Ctrl-C: the stacks it started stop with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--writers", default="100", help="writers at once; a comma-separated list runs each on a fresh stack"
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the day lasts once everything is made")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--in-flight", type=int, default=0, help="requests in flight at most (default: one per writer)")
    parser.add_argument(
        "--settle-minutes", type=float, default=15.0, help="how long to wait for the setup's expansions at most"
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="services to sample with py-spy during the run, comma-separated (gateway, index, mongo, ...)",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.writers.split(",")]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="studio-day-") as work:
        for count in counts:
            outcomes.append(
                asyncio.run(
                    day(
                        count,
                        args.minutes,
                        seed=args.seed,
                        in_flight=args.in_flight or count,
                        settle_minutes=args.settle_minutes,
                        profile=args.profile,
                        work=Path(work),
                    )
                )
            )
            if args.profile:  # the raw stacks are kept for a flame graph, where the tests keep theirs
                kept = Path.cwd() / ".artifacts" / "bench"
                kept.mkdir(parents=True, exist_ok=True)
                for found in Path(work).glob("profile-*"):
                    found.replace(kept / found.name)
    if len(outcomes) > 1:
        print("\n## The knee\n")
        print(knee(outcomes))


if __name__ == "__main__":
    main()
