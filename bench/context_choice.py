"""Choosing a section's story-bible entries, with 10, 100 and 1,000 entries in the codex.

For each codex size: building the codex once (its one pattern of every name and alias), then the
choice for each of 500 sections (a section and its two neighbouring paragraphs, ~120 words, naming
a few entries): median and p99, beside the time to fold the same text alone (the floor: every
choice reads its text once).

Run from the repository root: .venv/bin/python -m bench.context_choice
"""

from __future__ import annotations

import random
import statistics
import time

from processors.text_expansion.context import Codex, Entry, folded

WORDS = "the harbour ledger storm ferry lamp tide bell stairs ink salt rope gull shore night".split()


def entries(n: int, rng: random.Random) -> list[Entry]:
    made = []
    for i in range(n):
        name = f"{rng.choice(['Mara', 'Elias', 'Ivo', 'Zoë', 'Oskar', 'Ines'])} {i}"
        made.append(
            Entry(
                id=f"e{i}",
                version=1,
                name=name,
                kind=rng.choice(["character", "place", "object", "lore"]),
                description=" ".join(rng.choice(WORDS) for _ in range(40)),
                aliases=(f"Alias{i}", f"Other name {i}"),
                always_include=i % 50 == 0,
            )
        )
    return made


def section(rng: random.Random, known: list[Entry]) -> list[tuple[int, str]]:
    paragraphs = []
    for number in range(3):
        words = [rng.choice(WORDS) for _ in range(40)]
        for _ in range(2):
            words.insert(rng.randrange(len(words)), rng.choice(known).name)
        paragraphs.append((number + 1, " ".join(words).capitalize() + "."))
    return paragraphs


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    rng = random.Random(2026)
    print(f"{'entries':>8} {'build ms':>9} {'choose p50 ms':>14} {'p99 ms':>8} {'fold p50 ms':>12} {'chosen':>7}")
    for n in (10, 100, 1000):
        codex_entries = entries(n, rng)
        started = time.perf_counter()
        codex = Codex(codex_entries)
        build = (time.perf_counter() - started) * 1000
        sections = [section(rng, codex_entries) for _ in range(500)]
        timings, folds, chosen = [], [], []
        for paragraphs in sections:
            started = time.perf_counter()
            receipt = codex.choose(paragraphs, chapter=5, budget=1500)
            timings.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            for _, text in paragraphs:
                folded(text)
            folds.append((time.perf_counter() - started) * 1000)
            chosen.append(len(receipt))
        print(
            f"{n:>8} {build:>9.2f} {statistics.median(timings):>14.3f} {p(timings, 0.99):>8.3f}"
            f" {statistics.median(folds):>12.3f} {statistics.median(chosen):>7.0f}"
        )


if __name__ == "__main__":
    main()
