"""Renders in a process of their own: over the memory or time limit is a clear problem, the next
render works, and the render's process holds none of the service's secrets."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from processors.book_compiler.compiler import CompiledChapterText
from processors.book_compiler.exports import JOB, Manuscript, job_of
from processors.rendering.sandbox import RenderLimits, Sandbox
from servicekit.errors import RenderLimit
from studio_testing.waiting import eventually

WORDS = "Mara carried the ledger up the lighthouse stairs while the gull watched the tide. ".split()


def book(chapters: int, words: int = 1000) -> Manuscript:
    texts = [
        CompiledChapterText(
            n, f"Tide {n}", " ".join(WORDS[(n + i) % len(WORDS)] for i in range(words)), "draft", "d", 1, None, None
        )
        for n in range(1, chapters + 1)
    ]
    return Manuscript("b", "00000000-0000-0000-0000-000000000001", 1, "Salt Ledger", datetime.now(UTC), texts)


@pytest.mark.parametrize("fmt", ["pdf", "epub"])
async def test_a_render_over_its_memory_is_a_problem_and_the_next_one_works(fmt: str) -> None:
    async with Sandbox(RenderLimits(memory_mb=256, seconds=60)) as sandbox:
        with pytest.raises(RenderLimit) as refused:
            await sandbox.render(JOB, job_of(fmt, book(200)))
        assert refused.value.status == 422 and "256 MiB" in refused.value.detail
        assert refused.value.problem().type == "urn:studio:problem:render-limit"
        small = await sandbox.render(JOB, job_of(fmt, book(2, 200)))
    assert small[:4] in (b"%PDF", b"PK\x03\x04")


async def test_a_render_over_its_time_is_a_problem_and_the_next_one_works() -> None:
    async with Sandbox(RenderLimits(seconds=1, memory_mb=2048)) as sandbox:
        with pytest.raises(RenderLimit) as refused:
            await sandbox.render(JOB, job_of("pdf", book(200)))
        assert "processor time" in refused.value.detail
        assert (await sandbox.render(JOB, job_of("pdf", book(1, 100))))[:4] == b"%PDF"


def _renders(target: str) -> set[int]:
    """This test's render processes for `target` (`python -m processors.rendering.render_process TARGET ...`;
    a running stack's renderers have processes of their own)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    command = f.read().split(b"\0")[2:4]
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if command == [b"processors.rendering.render_process", target.encode()] and parent == os.getpid():
                found.add(int(entry))
    return found


async def test_a_render_holds_no_secret_and_goes_with_its_cancelled_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_SERVICE_TOKEN", "a-secret-the-render-must-not-see")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[2]))  # so that the child finds this test's function

    async def processes() -> set[int]:
        return _renders(JOB)

    async with Sandbox(RenderLimits(concurrency=1)) as sandbox:
        environment = await sandbox.render("tests.integration.sandboxed:environment", b"")
        assert (
            b"STUDIO_" not in environment
            and b"a-secret" not in environment
            and b"HOME=/tmp/studio-render-" in environment
        )
        assert await processes() == set()
        slow = asyncio.ensure_future(sandbox.render(JOB, job_of("pdf", book(200))))
        # The render's process, and the next one started ahead for the same target.
        started = await eventually(processes, lambda found: len(found) == 2, what="the render's process")
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        ahead = await eventually(processes, lambda found: len(found) == 1, what="the cancelled render's process to go")
        assert ahead < started
        assert (await sandbox.render(JOB, job_of("md", book(1, 10)))).startswith(b"# Salt Ledger"), (
            "its turn was given back"
        )
        assert ahead.isdisjoint(
            await eventually(processes, lambda found: len(found) == 1, what="the next one ahead")
        ), "one process, one file"
    await eventually(processes, lambda found: not found, what="the process started ahead to go with the sandbox")
