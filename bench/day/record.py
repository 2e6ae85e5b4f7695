"""What a day's run saw: each operation's times and answers, and the product's promises beside their targets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.measure import pct


@dataclass
class Operation:
    seconds: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    expected: set[int] = field(default_factory=set)  # answers that are right here (a 422 for an invalid save)

    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 400 and status not in self.expected)


@dataclass
class Promise:
    name: str
    target: str
    limit: float  # seconds (or a share, for errors)
    quantile: float  # which percentile is held to it (1.0: every one)


PROMISES = (
    Promise("a saved draft reaches the writer's other device (save to socket)", "p99 < 500 ms", 0.5, 0.99),
    Promise("an event reaches a socket (written to received)", "p99 < 100 ms", 0.1, 0.99),
    Promise("schema validation of a write (a refused save's answer)", "p99 < 50 ms", 0.05, 0.99),
    Promise("a 1,000-word draft expanded (saved to blob.derived on the socket)", "< 3 s", 3.0, 0.99),
)


@dataclass
class Record:
    operations: dict[str, Operation] = field(default_factory=dict)
    # Promise name -> samples in seconds.
    samples: dict[str, list[float]] = field(default_factory=lambda: {p.name: [] for p in PROMISES})
    timings: dict[str, list[float]] = field(default_factory=dict)  # other times worth showing (seconds)
    socket_messages: Counter[str] = field(default_factory=Counter)
    # (processor, the reason's first words) -> how many times a processor gave up, as the sockets heard it
    gave_up: Counter[tuple[str, str]] = field(default_factory=Counter)
    reconnects: int = 0
    late_expansions: int = 0  # 1,000-word drafts whose expansion had not come when the clock stopped

    def operation(self, name: str, seconds: float, status: int, *, expected: tuple[int, ...] = ()) -> None:
        found = self.operations.setdefault(name, Operation())
        found.seconds.append(seconds)
        found.statuses[status] += 1
        found.expected.update(expected)

    def promise(self, index: int, seconds: float) -> None:
        self.samples[PROMISES[index].name].append(seconds)

    def timing(self, name: str, seconds: float) -> None:
        self.timings.setdefault(name, []).append(seconds)

    def timings_table(self) -> str:
        rows = ["| time | samples | p50 | p99 | max |", "| --- | --- | --- | --- | --- |"]
        for name, values in sorted(self.timings.items()):
            rows.append(
                f"| {name} | {len(values)} | {_time(pct(values, 0.5))} | {_time(pct(values, 0.99))} "
                f"| {_time(max(values, default=0))} |"
            )
        return "\n".join(rows)

    def requests(self) -> int:
        return sum(sum(o.statuses.values()) for o in self.operations.values())

    def errors(self) -> tuple[int, int]:
        """Errors (answers that are not right), and how many of them were 5xx."""
        wrong = sum(o.errors() for o in self.operations.values())
        server = sum(n for o in self.operations.values() for status, n in o.statuses.items() if status >= 500)
        return wrong, server

    def operations_table(self, minutes: float) -> str:
        rows = [
            "| operation | count | per s | p50 ms | p95 ms | p99 ms | max ms | answers | error rate |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, op in sorted(self.operations.items(), key=lambda kv: -len(kv[1].seconds)):
            ms = [s * 1000 for s in op.seconds]
            total = sum(op.statuses.values())
            answers = " ".join(f"{status}:{n}" for status, n in sorted(op.statuses.items()))
            rows.append(
                f"| {name} | {total} | {total / (minutes * 60):.2f} "
                f"| {pct(ms, 0.5):.0f} | {pct(ms, 0.95):.0f} | {pct(ms, 0.99):.0f} "
                f"| {max(ms, default=0):.0f} | {answers} | {op.errors() / total:.2%} |"
            )
        return "\n".join(rows)

    def promises_table(self, writers: int) -> str:
        rows = ["| promise | target | samples | p50 | p99 | max | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for promise in PROMISES:
            values = self.samples[promise.name]
            held = pct(values, promise.quantile) if values else float("nan")
            met = "no samples" if not values else ("yes" if held < promise.limit else "**no**")
            rows.append(
                f"| {promise.name} | {promise.target} | {len(values)} "
                f"| {_time(pct(values, 0.5))} | {_time(pct(values, 0.99))} "
                f"| {_time(max(values, default=0))} | {met} |"
            )
        wrong, server = self.errors()
        total = self.requests()
        share = wrong / total if total else 0.0
        rows.append(
            f"| errors | < 1 % of requests, no 5xx | {total} | | | "
            f"| {'yes' if share < 0.01 and server == 0 else '**no**'}: {share:.2%}, {server} 5xx |"
        )
        rows.append(f"| writers active at once | all of the above | {writers} | | | | |")
        return "\n".join(rows)


def _time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"
