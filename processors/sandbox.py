"""Renders run in a process of their own, with a time limit and a memory limit.

A render turns a writer's text into a file with tools (pandoc, Typst, python-docx) that would do
more than asked if they could: this process holds no secret, no connection and no data but the one
job it was handed on its standard input, and it is killed when it uses more than its share. A huge
or hostile book then costs one render a clear problem answer, and the next render works.

Run as `python -m processors.sandbox MODULE:FUNCTION SECONDS MEGABYTES`: the function takes the
job's bytes and returns the file's; the module and function come from the service's code, never from
a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
import os
import resource
import signal
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.errors import RenderFailed, RenderLimit
from servicekit.settings import Env

log = logging.getLogger(__name__)
MEMORY_EXIT = 3  # the child ran out of its memory
TIME_EXIT = 4  # the child (or a program it ran) ran out of its CPU time
_MEMORY_SIGNS = ("memory allocation of", "MemoryError", "Heap exhausted", "out of memory", "Cannot allocate memory")


class LimitReached(Exception):
    """Raised in the child by a renderer whose own helper program hit a limit."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # memory | time


@dataclass(frozen=True, kw_only=True)
class RenderLimits:
    seconds: float = 30.0  # CPU seconds of one render; it is also stopped after three times that of wall time
    memory_mb: int = 1024  # address space of the render's process (and of each program it runs)
    concurrency: int = 2  # renders at once per instance; more wait their turn

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RenderLimits:
        env = Env(environ)
        return cls(
            seconds=env.number("STUDIO_RENDER_SECONDS", 30.0, minimum=1.0),
            memory_mb=env.integer("STUDIO_RENDER_MEMORY_MB", 1024, minimum=256, maximum=1 << 20),
            concurrency=env.integer("STUDIO_RENDER_CONCURRENCY", 2, minimum=1, maximum=256),
        )

    @property
    def wall_seconds(self) -> float:
        return max(self.seconds * 3, self.seconds + 10)


class Sandbox:
    """Runs renders in child processes, `limits.concurrency` at a time."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.concurrency)

    async def render(self, target: str, job: bytes) -> bytes:
        """The bytes `target` (`module:function`) makes of `job`, in a child process within the limits."""
        async with self._slots:
            with tempfile.TemporaryDirectory(prefix="studio-render-") as work:
                return await self._run(target, job, work)

    async def _run(self, target: str, job: bytes, work: str) -> bytes:
        limits = self.limits
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, target, str(limits.seconds), str(limits.memory_mb),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=work, env=_environment(work), start_new_session=True,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(child.communicate(job), timeout=limits.wall_seconds)
        except TimeoutError:
            _kill(child.pid)
            await child.wait()
            raise RenderLimit(f"the file took longer than {limits.wall_seconds:.0f} s to make") from None
        except BaseException:  # cancelled: the render and whatever it started go
            _kill(child.pid)
            with contextlib.suppress(ProcessLookupError):
                await child.wait()
            raise
        code = child.returncode
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


# The child -------------------------------------------------------------------------------------


def _limit(seconds: float, memory_mb: int) -> None:
    memory = memory_mb * 1024 * 1024
    cpu = math.ceil(seconds)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    target, seconds, memory_mb = argv[0], float(argv[1]), int(argv[2])
    _limit(seconds, memory_mb)
    module, _, function = target.partition(":")
    render = getattr(importlib.import_module(module), function)
    job = sys.stdin.buffer.read()
    # Run as `-m`, this module is `__main__`: renderers raise the class of the imported module.
    reached_class = importlib.import_module("processors.sandbox").LimitReached
    try:
        out = render(job)
    except MemoryError:
        return MEMORY_EXIT
    except reached_class as reached:
        return MEMORY_EXIT if reached.kind == "memory" else TIME_EXIT
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
