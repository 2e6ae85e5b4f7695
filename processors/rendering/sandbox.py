"""Renders run in a process of their own, with a time limit and a memory limit.

A render turns a writer's text into a file with tools (pandoc, Typst, python-docx) that would do
more than asked if they could: this process holds no secret, no connection and no data but the one
job it was handed on its standard input, and it is killed when it uses more than its share. A huge
or hostile book then costs one render a clear problem answer, and the next render works.

A render is `python -m processors.rendering.render_process MODULE:FUNCTION SECONDS MEGABYTES`: the function
takes the job's bytes and returns the file's; the module and function come from the service's code,
never from a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.errors import RenderFailed, RenderLimit
from servicekit.settings import load, setting

from .render_process import MEMORY_EXIT, TIME_EXIT

log = logging.getLogger(__name__)
_MEMORY_SIGNS = ("memory allocation of", "MemoryError", "Heap exhausted", "out of memory", "Cannot allocate memory")
CHILD = "processors.rendering.render_process"


@dataclass(frozen=True, kw_only=True)
class RenderLimits:
    seconds: float = setting(
        "STUDIO_RENDER_SECONDS", 30.0, "CPU time of one render (and 3x that of wall time)", minimum=1.0, unit="s"
    )
    memory_mb: int = setting(
        "STUDIO_RENDER_MEMORY_MB", 1024, "address space of a render's process", minimum=256, maximum=1 << 20, unit="MiB"
    )
    concurrency: int = setting(
        "STUDIO_RENDER_CONCURRENCY", 2, "renders at once per instance; more wait their turn", minimum=1, maximum=256
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RenderLimits:
        return load(cls, environ)

    @property
    def wall_seconds(self) -> float:
        return max(self.seconds * 3, self.seconds + 10)


@dataclass(eq=False)
class _Child:
    """A render's process, started before its job arrives (its imports done), and its working folder."""

    process: asyncio.subprocess.Process
    work: tempfile.TemporaryDirectory[str]

    def discard(self) -> None:
        if self.process.returncode is None:
            _kill(self.process.pid)
        self.work.cleanup()


class Sandbox:
    """Runs renders in child processes, `limits.concurrency` at a time. Each process makes one file;
    once a target has been rendered, the next process for it is started ahead (its imports take
    longer than most renders), so a render waits only for itself."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._spares: dict[str, asyncio.Task[_Child]] = {}

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the processes started ahead."""
        spares, self._spares = list(self._spares.values()), {}
        for spare in spares:
            # Not cancelled: a start cut short after the fork would leave its process behind.
            with contextlib.suppress(Exception):
                child = await spare
                child.discard()
                await child.process.wait()

    async def render(self, target: str, job: bytes) -> bytes:
        """The bytes `target` (`module:function`) makes of `job`, in a child process within the limits."""
        async with self._slots:
            child = await self._take(target)
            try:
                return await self._run(target, child, job)
            finally:
                child.discard()

    async def _take(self, target: str) -> _Child:
        """A started process for `target` (the one started ahead if it is still there); the next is started."""
        spare = self._spares.pop(target, None)
        self._spares[target] = asyncio.create_task(self._start(target))
        if spare is not None:
            with contextlib.suppress(Exception):
                child = await spare
                if child.process.returncode is None:
                    return child
                child.discard()
        return await self._start(target)

    async def _start(self, target: str) -> _Child:
        limits = self.limits
        work = tempfile.TemporaryDirectory(prefix="studio-render-")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                CHILD,
                target,
                str(limits.seconds),
                str(limits.memory_mb),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=work.name,
                env=_environment(work.name),
                start_new_session=True,
            )
        except BaseException:
            work.cleanup()
            raise
        return _Child(process, work)

    async def _run(self, target: str, child: _Child, job: bytes) -> bytes:
        limits = self.limits
        try:
            out, err = await asyncio.wait_for(child.process.communicate(job), timeout=limits.wall_seconds)
        except TimeoutError:
            _kill(child.process.pid)
            await child.process.wait()
            raise RenderLimit(f"the file took longer than {limits.wall_seconds:.0f} s to make") from None
        except BaseException:  # cancelled: the render and whatever it started go
            _kill(child.process.pid)
            with contextlib.suppress(ProcessLookupError):
                await child.process.wait()
            raise
        code = child.process.returncode
        if code == 0:
            return out
        detail = err.decode(errors="replace")
        if code == MEMORY_EXIT or (code == -signal.SIGABRT and any(s in detail for s in _MEMORY_SIGNS)):
            raise RenderLimit(f"the file needs more than {limits.memory_mb} MiB to make")
        if code in (TIME_EXIT, -signal.SIGXCPU, -signal.SIGKILL):
            raise RenderLimit(f"the file needs more than {limits.seconds:.0f} s of processor time to make")
        log.error("render %s failed with exit code %s: %s", target, code, detail.strip().splitlines()[-1:] or "")
        raise RenderFailed("the file could not be made")


def _environment(work: str) -> dict[str, str]:
    """The child's whole environment: none of the service's secrets or addresses."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8"}
    env["MALLOC_ARENA_MAX"] = "2"  # glibc reserves address space per thread arena; the limit counts it
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
