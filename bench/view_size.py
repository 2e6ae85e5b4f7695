"""What a 100-chapter book view weighs: as it is now, and with `?expanded=true` (the shape it had
before each chapter's expansion was said once, under `derived`).

Run from the repository root: .venv/bin/python -m bench.view_size [--chapters N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from servicekit.auth import issue_token
from studio_testing.harness import running_stack
from studio_testing.payloads import draft

USER = "view-size"


async def measure(chapters: int) -> None:
    with running_stack(STUDIO_PROCESSORS="text-expansion,summary") as stack:
        headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], USER)}"}
        async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as api:
            for n in range(1, chapters + 1):
                text = f"Chapter {n} opens at the harbour.\n\nThe ledger lay where Mara had left it, under the stairs."
                async with api.post("/api/v1/blobs", json=draft("weighed", n, text)) as response:
                    assert response.status == 201, await response.text()
            deadline = time.monotonic() + 600
            while True:
                async with api.get(f"/api/v1/users/{USER}/books/weighed", headers={"Cache-Control": "no-cache"}) as r:
                    body = await r.read() if r.status == 200 else b""
                    view = await r.json() if r.status == 200 else None
                if view and all(c["status"] == "ok" for c in view["chapters"]):
                    break
                assert time.monotonic() < deadline, "the book was not expanded in time"
                await asyncio.sleep(1)
            async with api.get(f"/api/v1/users/{USER}/books/weighed", params={"expanded": "true"}) as r:
                whole = await r.read()
    print(
        f"{chapters} chapters (text expansion and summary): the view {len(body) / 1024:.0f} KiB; "
        f"with ?expanded=true, the earlier shape, {len(whole) / 1024:.0f} KiB; ratio {len(body) / len(whole):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chapters", type=int, default=100)
    asyncio.run(measure(parser.parse_args().chapters))


if __name__ == "__main__":
    main()
