"""What the stack spent while writers worked: CPU and memory per service, the gateway's event-loop
lag, and how far behind each durable consumer was, sampled from outside the services."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import aiohttp
from nats.js import JetStreamContext

from bench.measure import cpu_seconds, descendants, rss_mib, slope_per_minute
from contracts.subjects import STREAM_NAME
from studio_testing.harness import Stack

INDEX_CALLS = "index calls"
BACKING = ("mongo", "mongo-text-expansion", "nats", "postgres")
# Histograms read from the services' /metrics at the start and the end of the run.
# (service, metric, the labels after `le` as the service prints them)
HISTOGRAMS = {
    "gateway event-loop lag": ("gateway", "studio_event_loop_lag_seconds", ""),
    "index event-loop lag": ("index", "studio_event_loop_lag_seconds", ""),
    "text expansion event-loop lag": ("text-expansion", "studio_event_loop_lag_seconds", ""),
    "the gateway's calls to the index": ("gateway", "studio_gateway_upstream_seconds", ',source="index"'),
    "the index answering a blob (read, save, delete)": (
        "index",
        "studio_http_request_duration_seconds",
        ',route="/api/v1/blobs/{blob_id}"',
    ),
    "the index answering a new blob": ("index", "studio_http_request_duration_seconds", ',route="/api/v1/blobs"'),
    "the index answering a processor's derived blobs": (
        "index",
        "studio_http_request_duration_seconds",
        ',route="/api/v1/blob-index"',
    ),
    "an event's age when the gateway reads it (write, outbox, broker)": (
        "gateway",
        "studio_gateway_event_age_seconds",
        "",
    ),
}


@dataclass
class Process:
    name: str
    pids: list[int]  # the process, and for PostgreSQL its backends too (read again at each sample)
    cpu_start: float = 0.0
    cpu_end: float | None = None  # read when the writers stop, not after the backlog drained
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the run, MiB)

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids)


def processes(stack: Stack, extra: dict[str, int]) -> list[Process]:
    """Every service and backing server of `stack`, and `extra` (the simulated provider, this benchmark)."""
    info = stack.refresh()
    found = [Process(name, [int(entry["pid"])]) for name, entry in sorted(info["services"].items())]
    found += [Process(name, [int(info[name]["pid"])]) for name in BACKING if name in info]
    found += [Process(name, [pid]) for name, pid in extra.items()]
    return found


class Sampler:
    """CPU seconds and resident memory of each process every `interval` s; consumers' backlog every 5 s."""

    def __init__(self, stack: Stack, procs: list[Process], js: JetStreamContext, *, interval: float = 2.0) -> None:
        self.stack, self.procs, self.js, self.interval = stack, procs, js, interval
        self.backlog: list[tuple[float, dict[str, int]]] = []  # (seconds, durable -> pending + unacknowledged)
        self.started = 0.0
        self.hist_start: dict[str, dict[str, float]] = {}
        self.hist_end: dict[str, dict[str, float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self, session: aiohttp.ClientSession) -> None:
        for proc in self.procs:
            proc.pids = self._tree(proc)
            proc.cpu_start = proc.cpu()
        self.hist_start = await self._histograms(session)
        self.started = time.monotonic()
        self._task = asyncio.create_task(self._run())

    async def stop(self, session: aiohttp.ClientSession) -> float:
        """Stop sampling; the seconds sampled."""
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        for proc in self.procs:
            proc.cpu_end = proc.cpu()
        self.hist_end = await self._histograms(session)
        return time.monotonic() - self.started

    def _tree(self, proc: Process) -> list[int]:
        root = proc.pids[0]
        return [root, *descendants(root)] if proc.name == "postgres" else [root]

    async def _run(self) -> None:
        tick = 0
        while True:
            at = time.monotonic() - self.started
            for proc in self.procs:
                proc.pids = self._tree(proc) if proc.name == "postgres" else proc.pids
                proc.rss.append((at, sum(rss_mib(p) for p in proc.pids)))
            if tick % max(1, round(5 / self.interval)) == 0:
                self.backlog.append((at, await self.consumers()))
            tick += 1
            await asyncio.sleep(self.interval)

    async def consumers(self) -> dict[str, int]:
        """Each durable consumer of the event stream: messages not yet handled (pending and unacknowledged)."""
        found = {}
        for info in await self.js.consumers_info(STREAM_NAME):
            name = info.name or ""
            if info.config.durable_name:
                found[name] = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return found

    async def _histograms(self, session: aiohttp.ClientSession) -> dict[str, dict[str, float]]:
        """Each watched histogram: cumulative count per bucket bound, as the service reports it now."""
        found: dict[str, dict[str, float]] = {}
        urls = {"gateway": self.stack.gateway, "index": self.stack.index, "text-expansion": self.stack.text_expansion}
        pages: dict[str, str] = {}
        for label, (service, metric, labels) in HISTOGRAMS.items():
            if service not in pages:
                async with session.get(f"{urls[service]}/metrics", headers=self.stack.metrics_headers) as response:
                    pages[service] = await response.text()
            text = pages[service]
            pattern = re.compile(rf'^{metric}_bucket\{{le="([^"]+)"{re.escape(labels)}\}} ([0-9.e+]+)$', re.M)
            found[label] = {bound: float(count) for bound, count in pattern.findall(text)}
        calls = re.compile(
            r'^studio_http_requests_total\{method="([^"]+)",route="([^"]+)",status="[^"]+"\} ([0-9.e+]+)$', re.M
        )
        asked: dict[str, float] = {}
        for method, route, count in calls.findall(pages["index"]):
            asked[f"{method} {route}"] = asked.get(f"{method} {route}", 0.0) + float(count)
        found[INDEX_CALLS] = asked
        return found

    def index_calls(self, seconds: float) -> str:
        """What the index was asked over the run, per route: who loads its database."""
        end, start = self.hist_end.get(INDEX_CALLS, {}), self.hist_start.get(INDEX_CALLS, {})
        counts = sorted(((n - start.get(route, 0.0), route) for route, n in end.items()), reverse=True)
        rows = ["| index route | calls | per s |", "| --- | --- | --- |"]
        rows += [f"| `{route}` | {int(n)} | {n / seconds:.1f} |" for n, route in counts if n > 0]
        return "\n".join(rows)

    def histograms_table(self) -> str:
        """Each watched histogram over the run: p50 and p99 as bucket bounds, and how many observations."""
        rows = ["| what | p50 | p99 | observations |", "| --- | --- | --- | --- |"]

        def bound(counts: dict[str, float], total: float, q: float) -> str:
            for b, n in sorted(counts.items(), key=lambda kv: float(kv[0])):
                if total and n >= q * total:
                    return f"≤ {float(b) * 1000:g} ms" if b != "+Inf" else "above the last bucket"
            return "-"

        for label in HISTOGRAMS:
            end, start = self.hist_end.get(label, {}), self.hist_start.get(label, {})
            counts = {b: end[b] - start.get(b, 0.0) for b in end}
            total = counts.get("+Inf", 0.0)
            rows.append(f"| {label} | {bound(counts, total, 0.5)} | {bound(counts, total, 0.99)} | {int(total)} |")
        return "\n".join(rows)

    def resources_table(self, seconds: float) -> str:
        rows = [
            "| process | CPU s | cores | peak RSS MiB | end RSS MiB | RSS slope MiB/min |",
            "| --- | --- | --- | --- | --- | --- |",
        ]

        def used(proc: Process) -> float:
            return max(0.0, (proc.cpu() if proc.cpu_end is None else proc.cpu_end) - proc.cpu_start)

        for proc in sorted(self.procs, key=lambda p: -used(p)):
            peak = max((v for _, v in proc.rss), default=0.0)
            end = proc.rss[-1][1] if proc.rss else 0.0
            # The slope is taken over the second half: the first fills caches and pools.
            half = [s for s in proc.rss if s[0] >= seconds / 2]
            cpu, slope = used(proc), slope_per_minute(half)
            rows.append(f"| {proc.name} | {cpu:.0f} | {cpu / seconds:.2f} | {peak:.0f} | {end:.0f} | {slope:+.1f} |")
        return "\n".join(rows)

    def backlog_table(self) -> str:
        names = sorted({n for _, found in self.backlog for n in found})
        rows = ["| consumer | max behind | at end | samples over time (every ~5 s) |", "| --- | --- | --- | --- |"]
        for name in names:
            series = [found.get(name, 0) for _, found in self.backlog]
            shown = " ".join(str(v) for v in series[:: max(1, len(series) // 12)])
            rows.append(f"| {name} | {max(series, default=0)} | {series[-1] if series else 0} | {shown} |")
        return "\n".join(rows)
