"""Schema validation of a 1 KB chapter draft: the cached validator against compiling per call;
and what the edge's body checks (depth, storable values) cost beside a bare typed decode, for a
1 KB draft and a body near the 1 MiB limit.

Run from the repository root: .venv/bin/python -m bench.validate
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jsonschema
import msgspec

from contracts.models import CreateBlob
from contracts.validation import ValidatorCache, builtin_schemas
from servicekit.bodies import BodyReader

ROUNDS = 7


def per_call_us(fn: Callable[[], Any], calls: int) -> float:
    """Median over ROUNDS of the mean time of one call, in microseconds."""
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def main() -> None:
    schema = builtin_schemas()["text-input-v1"]
    cache = ValidatorCache()
    cache.put("text-input-v1", schema)
    sentence = "The tide came in over the causeway while the lamp turned above them. "
    draft = {
        "content": (sentence * 15)[:960],
        "metadata": {"book_id": "the-lighthouse-keeper", "chapter": 3, "style": "creative", "title": "The Ledger"},
    }
    size = len(msgspec.json.encode(draft))
    bad = {"content": "short", "metadata": {"chapter": "three", "style": "loud"}}

    cached = per_call_us(lambda: cache.validate("text-input-v1", draft), 20_000)
    cached_bad = per_call_us(lambda: cache.validate("text-input-v1", bad, prefix="/data"), 5_000)
    uncached = per_call_us(lambda: jsonschema.validate(draft, schema), 500)
    print(f"draft size: {size} bytes (JSON)")
    print(f"cached validator, valid draft:        {cached:8.2f} us/draft  (seeds ask < 50,000 us; aim < 100 us)")
    print(f"cached validator, invalid draft:      {cached_bad:8.2f} us/draft  (3 errors, each with its JSON pointer)")
    print(f"jsonschema.validate (compiles each):  {uncached:8.2f} us/draft")
    print(f"ratio cached / compile-each-call:     {cached / uncached:8.4f}")

    reader = BodyReader(max_depth=32)
    typed = msgspec.json.Decoder(CreateBlob)
    for label, body, calls in [
        ("1 KB draft", {"schema_id": "text-input-v1", "data": draft}, 20_000),
        ("~1 MiB draft", {"schema_id": "text-input-v1", "data": {**draft, "content": sentence * 14_000}}, 50),
        (
            "~0.5 MiB of nested notes",
            {
                "schema_id": "text-input-v1",
                "data": {"content": "x" * 20, "notes": [{"n": i, "t": sentence} for i in range(6_000)]},
            },
            50,
        ),
    ]:
        raw = msgspec.json.encode(body)
        checked = per_call_us(lambda raw=raw: reader.decode(raw, CreateBlob), calls)
        bare = per_call_us(lambda raw=raw: typed.decode(raw), calls)
        print(
            f"body {label:26s} ({len(raw):>7} bytes): checked {checked:9.1f} us, "
            f"bare typed decode {bare:9.1f} us, ratio {checked / bare:5.2f}"
        )


if __name__ == "__main__":
    main()
