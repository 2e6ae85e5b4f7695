"""Renders in a process of their own: over the memory or time limit is a clear problem, the next
render works, and the render's process holds none of the service's secrets."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from datetime import UTC, datetime

import pytest

from processors.book_compiler.compiler import CompiledChapterText
from processors.book_compiler.exports import JOB, Manuscript, job_of
from processors.sandbox import RenderLimits, Sandbox
from servicekit.errors import RenderLimit

from .waiting import eventually

WORDS = "Mara carried the ledger up the lighthouse stairs while the gull watched the tide. ".split()


def book(chapters: int, words: int = 1000) -> Manuscript:
    texts = [
        CompiledChapterText(n, f"Tide {n}", " ".join(WORDS[(n + i) % len(WORDS)] for i in range(words)), "draft", "d", 1, None, None)
        for n in range(1, chapters + 1)
    ]  # fmt: skip
    return Manuscript("b", "00000000-0000-0000-0000-000000000001", 1, "Salt Ledger", datetime.now(UTC), texts)


@pytest.mark.parametrize("fmt", ["pdf", "epub"])
async def test_a_render_over_its_memory_is_a_problem_and_the_next_one_works(fmt: str) -> None:
    sandbox = Sandbox(RenderLimits(memory_mb=256, seconds=60))
    with pytest.raises(RenderLimit) as refused:
        await sandbox.render(JOB, job_of(fmt, book(200)))
    assert refused.value.status == 422 and "256 MiB" in refused.value.detail
    assert refused.value.problem().type == "urn:studio:problem:render-limit"
    small = await sandbox.render(JOB, job_of(fmt, book(2, 200)))
    assert small[:4] in (b"%PDF", b"PK\x03\x04")


async def test_a_render_over_its_time_is_a_problem_and_the_next_one_works() -> None:
    sandbox = Sandbox(RenderLimits(seconds=1, memory_mb=2048))
    with pytest.raises(RenderLimit) as refused:
        await sandbox.render(JOB, job_of("pdf", book(200)))
    assert "processor time" in refused.value.detail
    assert (await sandbox.render(JOB, job_of("pdf", book(1, 100))))[:4] == b"%PDF"


def _renders() -> set[int]:
    """This process's render children (`python -m processors.sandbox ...`)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"processors.sandbox" in f.read():
                        found.add(int(entry))
            except OSError:
                continue
    return found


async def test_a_render_holds_no_secret_and_goes_with_its_cancelled_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_SERVICE_TOKEN", "a-secret-the-render-must-not-see")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[2]))  # so that the child finds this test's function
    sandbox = Sandbox(RenderLimits(concurrency=1))
    environment = await sandbox.render("tests.integration.sandboxed:environment", b"")
    assert b"STUDIO_" not in environment and b"a-secret" not in environment and b"HOME=/tmp/studio-render-" in environment
    before = _renders()
    slow = asyncio.ensure_future(sandbox.render(JOB, job_of("pdf", book(200))))
    async def new() -> set[int]:
        return _renders() - before

    started = await eventually(new, bool, what="the render's process")
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await eventually(new, lambda now: not (now & started), what="the render's process to go")
    assert (await sandbox.render(JOB, job_of("md", book(1, 10)))).startswith(b"# Salt Ledger"), "its turn was given back"
