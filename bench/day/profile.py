"""A service profiled while writers work: py-spy samples it from outside,
and the functions that held it most are printed."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path


class Profile:
    """`py-spy record` of one process for a set time, in py-spy's raw (collapsed stacks) format."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        self.pid, self.seconds, self.out = pid, seconds, out
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> bool:
        spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).with_name("py-spy"))
        if not Path(spy).exists():
            return False
        self._process = await asyncio.create_subprocess_exec(
            spy,
            "record",
            "--pid",
            str(self.pid),
            "--duration",
            str(int(self.seconds)),
            "--rate",
            "50",
            "--format",
            "raw",
            "--output",
            str(self.out),
            "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return True

    async def wait(self) -> None:
        if self._process is not None:
            await self._process.wait()

    def summary(self, top: int = 15) -> str:
        """The functions most often on the CPU (self) and most often on the stack (total), as a table."""
        if not self.out.exists():
            return "(no profile: py-spy did not write one)"
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        samples = 0
        for line in self.out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            samples += n
            frames = [f.strip() for f in stack.split(";") if f.strip()]
            if frames:
                own[_short(frames[-1])] += n
            for frame in {_short(f) for f in frames}:
                total[frame] += n
        rows = [
            f"{samples} samples; the functions most often running (self) and on the stack (total):",
            "",
            "| function | self | total |",
            "| --- | --- | --- |",
        ]
        for frame, n in own.most_common(top):
            rows.append(f"| `{frame}` | {n / samples:.1%} | {total[frame] / samples:.1%} |")
        return "\n".join(rows)


def _short(frame: str) -> str:
    """`function (path/to/module.py:123)` as `module.function`."""
    name, _, where = frame.partition(" (")
    module = Path(where.split(":")[0]).stem if where else ""
    return f"{module}.{name}" if module else name
