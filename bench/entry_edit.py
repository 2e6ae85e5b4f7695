"""A story-bible entry edited in a 100-chapter book: which sections are written again, and how
long until the whole book is current.

Starts its own stack (text expansion against the simulated provider: 50 tokens/s, 400 ms to the
first token, in a process of its own), writes a book of `--chapters` chapters of three paragraphs
each, with an entry named in `--using` of them, waits for every expansion, then edits the entry
`--edits` times. For each edit it prints the sections written again (an expansion made again
says how many of its sections it reused), the chapters made again, and the time from the edit's
answer to a book view where every chapter is current and every receipt names the new version.

Run from the repository root: .venv/bin/python -m bench.entry_edit [--chapters 100] [--using 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import aiohttp

from servicekit.auth import issue_token
from studio_testing.fake_openai import provider_process
from studio_testing.harness import free_port, running_stack

ENTRY = "Mara Quist"
PARAGRAPH = (
    "The tide came in over the causeway while the lamp turned above them, slow and patient, as it had for years."
)


def chapter_text(number: int, named: bool) -> str:
    middle = f"{ENTRY} counted the boats from the gallery." if named else "Nobody counted the boats that night."
    return f"Chapter {number}. {PARAGRAPH}\n\n{middle}\n\nThe harbour slept, and the gulls with it."


async def view(api: aiohttp.ClientSession, user: str) -> dict[str, Any]:
    async with api.get(f"/api/v1/users/{user}/books/bible", headers={"Cache-Control": "no-cache"}) as response:
        return dict(await response.json())


def current(body: dict[str, Any], entry_id: str, version: int, chapters: int) -> bool:
    if len(body["chapters"]) != chapters or any(c["status"] != "ok" for c in body["chapters"]):
        return False
    receipts = [
        u
        for c in body["chapters"]
        for s in c["derived"]["text-expansion"]["data"]["sections"]
        for u in s["receipt"]
        if u["entry_id"] == entry_id
    ]
    return bool(receipts) and all(u["entry_version"] == version for u in receipts)


async def run(chapters: int, using: int, edits: int) -> None:
    port = free_port()
    provider = provider_process(port, tokens_per_second=50, first_token_seconds=0.4)
    model = {"STUDIO_OPENAI_API_KEY": "bench", "STUDIO_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    try:
        with running_stack(STUDIO_PROCESSORS="text-expansion", **model) as stack:
            user = "entry-edit"
            headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user)}"}
            async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as api:
                async with api.post(f"/api/v1/users/{user}/books", json={"id": "bible", "title": "Bible"}) as r:
                    assert r.status == 201, await r.text()
                data = {"name": ENTRY, "kind": "character", "description": "An archivist.", "book_id": "bible"}
                async with api.post("/api/v1/blobs", json={"schema_id": "codex-entry-v1", "data": data}) as r:
                    entry = await r.json()
                named = {round(i * chapters / using) + 1 for i in range(using)}
                started = time.monotonic()
                for n in range(1, chapters + 1):
                    body = {
                        "schema_id": "text-input-v1",
                        "data": {
                            "content": chapter_text(n, n in named),
                            "metadata": {"book_id": "bible", "chapter": n},
                        },
                    }
                    async with api.post("/api/v1/blobs", json=body) as r:
                        assert r.status == 201, await r.text()
                while not current(await view(api, user), entry["id"], 1, chapters):
                    await asyncio.sleep(0.5)
                print(f"{chapters} chapters written and expanded in {time.monotonic() - started:.1f} s")
                before = await view(api, user)
                sections = sum(len(c["derived"]["text-expansion"]["data"]["sections"]) for c in before["chapters"])
                naming = sum(
                    any(u["entry_id"] == entry["id"] for u in s["receipt"])
                    for c in before["chapters"]
                    for s in c["derived"]["text-expansion"]["data"]["sections"]
                )
                print(f"{sections} sections; {naming} of them name {ENTRY!r} (in chapters {sorted(named)})\n")
                print("| edit | sections written again | chapters made again | edit to all current |")
                print("| --- | --- | --- | --- |")
                times = []
                version = entry["version"]
                for edit in range(1, edits + 1):
                    data = {**data, "description": f"An archivist, revision {edit}."}
                    async with api.put(f"/api/v1/blobs/{entry['id']}", json={"data": data, "version": version}) as r:
                        assert r.status == 200, await r.text()
                        version = (await r.json())["version"]
                    edited = time.monotonic()
                    while not current(body := await view(api, user), entry["id"], version, chapters):
                        await asyncio.sleep(0.05)
                    took = time.monotonic() - edited
                    times.append(took)
                    made = [
                        c["derived"]["text-expansion"]["data"]
                        for c in body["chapters"]
                        if any(
                            u["entry_version"] == version
                            for s in c["derived"]["text-expansion"]["data"]["sections"]
                            for u in s["receipt"]
                        )
                    ]
                    rewritten = sum(len(d["sections"]) - d["sections_reused"] for d in made)
                    print(f"| {edit} | {rewritten} of {sections} | {len(made)} of {chapters} | {took * 1000:.0f} ms |")
                median, most = statistics.median(times) * 1000, max(times) * 1000
                print(f"\nedit to all current: median {median:.0f} ms, max {most:.0f} ms")
    finally:
        provider.kill()
        provider.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapters", type=int, default=100)
    parser.add_argument("--using", type=int, default=3)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.chapters, args.using, args.edits))


if __name__ == "__main__":
    main()
