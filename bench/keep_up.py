"""Does text expansion keep up with writers? Drafts written through the gateway by many clients.

Starts its own stack (text expansion alone, offline expander), runs WRITERS clients creating
chapter drafts for SECONDS, then prints the write rate, how many messages text expansion still had
to handle when the writers stopped (its durable consumer's pending and unacknowledged messages),
and how long it took to drain them.

Run from the repository root: .venv/bin/python -m bench.keep_up [--writers N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import nats

from contracts.subjects import STREAM_NAME
from processors.runtime.consumer import durable_name
from servicekit.auth import issue_token
from studio_testing.harness import running_stack

DURABLE = durable_name("text-expansion", "blob.created.text-input-v1")


async def backlog(js: nats.js.JetStreamContext) -> int:
    info = await js.consumer_info(STREAM_NAME, DURABLE)
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def run(writers: int, seconds: float, concurrency: int) -> None:
    with running_stack(STUDIO_PROCESSORS="text-expansion", STUDIO_TEXT_EXPANSION_CONCURRENCY=str(concurrency)) as stack:
        nc = await nats.connect(stack.nats_url)
        js = nc.jetstream()
        written = 0
        samples: list[tuple[float, int]] = []
        until = time.monotonic() + seconds

        async def writer(n: int) -> None:
            nonlocal written
            token = issue_token(stack.secrets["jwt_secret"], f"keep-up-{n}")
            async with aiohttp.ClientSession(
                base_url=stack.gateway, headers={"Authorization": f"Bearer {token}"}
            ) as api:
                chapter = 0
                while time.monotonic() < until:
                    chapter += 1
                    body = {
                        "schema_id": "text-input-v1",
                        "data": {
                            "content": (
                                f"Chapter {chapter}. The tide came in over the causeway "
                                "while the lamp turned above them."
                            ),
                            "metadata": {"book_id": f"keep-up-{n}", "chapter": chapter},
                        },
                    }
                    async with api.post("/api/v1/blobs", json=body) as response:
                        if response.status == 201:
                            written += 1

        async def sampler() -> None:
            while time.monotonic() < until:
                await asyncio.sleep(5)
                samples.append((seconds - (until - time.monotonic()), await backlog(js)))

        started = time.monotonic()
        await asyncio.gather(sampler(), *(writer(n) for n in range(writers)))
        wrote_for = time.monotonic() - started
        behind = await backlog(js)
        stopped = time.monotonic()
        while await backlog(js) > 0:
            await asyncio.sleep(0.2)
        drained = time.monotonic() - stopped
        await nc.drain()
        print(
            f"{writers} writers, text expansion with {concurrency} workers, for {wrote_for:.0f} s: "
            f"{written} drafts ({written / wrote_for:.1f}/s)"
        )
        print("backlog while writing: " + ", ".join(f"{at:.0f} s: {n}" for at, n in samples))
        print(
            f"behind when the writers stopped: {behind} messages; drained {drained:.1f} s later "
            f"(expansion rate while writing ~{(written - behind) / wrote_for:.1f}/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--concurrency", type=int, default=16, help="text expansion's workers (STUDIO_TEXT_EXPANSION_CONCURRENCY)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.writers, args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
