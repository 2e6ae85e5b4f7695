"""Book exports through the gateway: time and size per format, first render against cached.

Starts its own stack (index, gateway, book compiler), writes a 20- and a 200-chapter book of
~1,000-word chapters through the index, compiles each from its drafts `--versions` times, then for every format
asks the gateway for each version's export (the first request renders it: the median of those is `first`), then
`--repeats` more that come from the compiler's cache. Prints p50s, sizes, the cached/first ratio, the book
compiler's peak RSS while it renders the 200-chapter PDF and the render process's (sampled from /proc every 10 ms),
then each format rendered in this process and in the sandbox side by side.

Run from the repository root: .venv/bin/python -m bench.exports [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid

import aiohttp

from bench.measure import descendants, rss_mib
from servicekit.auth import issue_token
from studio_testing.harness import Stack, running_stack

FORMATS = ("epub", "docx", "pdf", "md", "txt")
NAMES = "Mara Ines Tobias Elin Soren Hale Wren Agnes Pell Corin".split()
NOUNS = "ledger lamp harbour ferry storm quay rope lantern gull tide keeper cargo compass chart anchor mast".split()
VERBS = "carried watched found dropped mended counted followed hid opened burned read lost".split()
PLACES = (
    "up the lighthouse stairs|across the frozen quay|into the boathouse|along the harbour wall|under the old pier"
).split("|")


def chapter_text(n: int, words: int = 1000) -> str:
    """About `words` words of varied prose (repeated text would compress to nothing in a zip)."""
    rng = random.Random(n)
    paragraphs, count = [], 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            sentence = (
                f"{rng.choice(NAMES)} {rng.choice(VERBS)} the {rng.choice(NOUNS)} {rng.choice(PLACES)} "
                f"while the {rng.choice(NOUNS)} {rng.choice(VERBS)} the {rng.choice(NOUNS)}."
            )
            sentences.append(sentence)
            count += len(sentence.split())
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


async def sandbox_overhead(repeats: int = 5) -> None:
    """Each format of a 20-chapter book rendered in this process (as before the sandbox) and in the
    sandbox (a process of its own, within limits), side by side: medians and their ratio."""
    from datetime import UTC, datetime

    from processors.book_compiler.compiler import CompiledChapterText
    from processors.book_compiler.exports import FORMATS as RENDERERS
    from processors.book_compiler.exports import JOB, Manuscript, job_of
    from processors.rendering.sandbox import RenderLimits, Sandbox

    chapters = [CompiledChapterText(n, f"Tide {n}", chapter_text(n), "draft", "d", 1, None, None) for n in range(1, 21)]
    book = Manuscript(
        "b", "00000000-0000-0000-0000-000000000002", 1, "Salt Ledger", datetime.now(UTC), chapters, author="Ann Lee"
    )
    sandbox = Sandbox(RenderLimits())
    print("\n20 chapters rendered in the service's own process and in the sandbox (median of", repeats, "each)\n")
    print("| format | in process ms | sandboxed ms | sandboxed / in process |")
    print("| --- | --- | --- | --- |")
    for fmt in FORMATS:
        inline, boxed = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            RENDERERS[fmt][2](book)
            inline.append(time.perf_counter() - started)
            started = time.perf_counter()
            await sandbox.render(JOB, job_of(fmt, book))
            boxed.append(time.perf_counter() - started)
        a, b = statistics.median(inline) * 1000, statistics.median(boxed) * 1000
        print(f"| {fmt} | {a:,.0f} | {b:,.0f} | {b / a:.2f} |", flush=True)


async def book(session: aiohttp.ClientSession, stack: Stack, user_id: str, book_id: str, chapters: int) -> None:
    """Write the book's drafts (about 1,000 words each) and compile it from them."""
    internal = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    client = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user_id)}"}
    async with session.post(
        f"{stack.gateway}/api/v1/users/{user_id}/books", headers=client, json={"id": book_id, "title": "Salt Ledger"}
    ) as r:
        assert r.status == 201
    async with session.patch(
        f"{stack.gateway}/api/v1/users/{user_id}/books/{book_id}", headers=client, json={"author": "Ann Lee"}
    ) as r:
        assert r.status == 200
    semaphore = asyncio.Semaphore(16)

    async def chapter(n: int) -> None:
        body = {
            "user_id": user_id,
            "schema_id": "text-input-v1",
            "data": {"content": chapter_text(n), "metadata": {"book_id": book_id, "chapter": n}},
        }
        async with semaphore, session.post(f"{stack.index}/api/v1/blobs", headers=internal, json=body) as r:
            assert r.status == 201, await r.text()

    await asyncio.gather(*(chapter(n) for n in range(1, chapters + 1)))
    async with session.post(
        f"{stack.gateway}/api/v1/users/{user_id}/books/{book_id}/compile", headers=client, json={"prefer": "draft"}
    ) as r:
        assert r.status == 202
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        async with session.get(f"{stack.gateway}/api/v1/users/{user_id}/books", headers=client) as r:
            if any(b["book_id"] == book_id and b["compiled_version"] for b in (await r.json())["books"]):
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{book_id} did not compile")


async def fetch(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    async with session.get(url, headers=headers) as r:
        data = await r.read()
        assert r.status == 200, data[:300]
    return time.perf_counter() - started, len(data)


async def compile_again(session: aiohttp.ClientSession, stack: Stack, user_id: str, book_id: str, version: int) -> None:
    """Another compiled version of the same book (each version's files are rendered afresh)."""
    client = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user_id)}"}
    async with session.post(
        f"{stack.gateway}/api/v1/users/{user_id}/books/{book_id}/compile", headers=client, json={"prefer": "draft"}
    ) as r:
        assert r.status == 202
    while True:
        async with session.get(f"{stack.gateway}/api/v1/users/{user_id}/books/{book_id}/versions", headers=client) as r:
            if len((await r.json())["versions"]) >= version:
                return
        await asyncio.sleep(0.2)


async def peaks(pid: int, peak: float, stop: asyncio.Event) -> tuple[float, float]:
    """Until `stop` is set, every 10 ms: the peak RSS of `pid` (from `peak`) and of all its descendants together."""
    render_peak = 0.0
    while not stop.is_set():
        peak = max(peak, rss_mib(pid))
        render_peak = max(render_peak, sum(rss_mib(p) for p in descendants(pid)))
        await asyncio.sleep(0.01)
    return peak, render_peak


async def run(repeats: int, versions: int) -> None:
    with running_stack(STUDIO_PROCESSORS="book-compiler") as stack:
        compiler_pid = stack.refresh()["services"]["book-compiler"]["pid"]
        user_id = f"bench-{uuid.uuid4().hex[:8]}"
        headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user_id)}"}
        print(
            f"each format's first request for each of {versions} compiled versions (rendered), "
            f"then {repeats} cached requests\n"
        )
        print("| chapters | format | size | first p50 ms | cached p50 / p99 ms | cached / first |")
        print("| --- | --- | --- | --- | --- | --- |")
        pdf_memory = (0.0, 0.0)
        pdf_render_peak = 0.0
        async with aiohttp.ClientSession() as session:
            for chapters in (20, 200):
                book_id = f"b{chapters}"
                await book(session, stack, user_id, book_id, chapters)
                for version in range(2, versions + 1):
                    await compile_again(session, stack, user_id, book_id, version)
                for fmt in FORMATS:
                    firsts: list[float] = []
                    for version in range(1, versions + 1):
                        url = (
                            f"{stack.gateway}/api/v1/users/{user_id}/books/{book_id}/export"
                            f"?format={fmt}&version={version}"
                        )
                        before = rss_mib(compiler_pid)
                        stop = asyncio.Event()
                        sampler = asyncio.create_task(peaks(compiler_pid, before, stop))
                        first, size = await fetch(session, url, headers)
                        stop.set()
                        peak, render_peak = await sampler
                        firsts.append(first)
                        if chapters == 200 and fmt == "pdf":
                            pdf_memory = (min(pdf_memory[0] or before, before), max(pdf_memory[1], peak))
                            pdf_render_peak = max(pdf_render_peak, render_peak)
                    cached = sorted([(await fetch(session, url, headers))[0] for _ in range(repeats)])
                    p50, p99, first_p50 = (
                        statistics.median(cached),
                        cached[int(0.99 * (len(cached) - 1))],
                        statistics.median(firsts),
                    )
                    print(
                        f"| {chapters} | {fmt} | {size / 1024:,.0f} KiB | {first_p50 * 1000:,.0f} "
                        f"| {p50 * 1000:.1f} / {p99 * 1000:.1f} "
                        f"| {p50 / first_p50:.3f} |",
                        flush=True,
                    )
        print(
            f"\nbook compiler RSS while rendering the 200-chapter PDFs: {pdf_memory[0]:.0f} MiB before, "
            f"{pdf_memory[1]:.0f} MiB at peak;"
        )
        print(
            f"the render's own process (and what it ran) at peak: {pdf_render_peak:.0f} MiB, "
            "within STUDIO_RENDER_MEMORY_MB"
        )
    await sandbox_overhead()


def main() -> None:
    if "--sandbox-only" in sys.argv:
        asyncio.run(sandbox_overhead())
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="cached requests per format")
    parser.add_argument(
        "--versions", type=int, default=3, help="compiled versions per book (each rendered once per format)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.repeats, args.versions))


if __name__ == "__main__":
    main()
