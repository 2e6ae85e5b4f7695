"""A render's own process: its limits set first, its renderer imported, then its one job from standard input.

`python -m processors.rendering.render_process MODULE:FUNCTION SECONDS MEGABYTES`
(started by `processors.rendering.sandbox`).
It imports as little as it can before its renderer: the process is started ahead of its job.
"""

from __future__ import annotations

import importlib
import math
import resource
import sys

MEMORY_EXIT = 3  # the process ran out of its memory
TIME_EXIT = 4  # the process (or a program it ran) ran out of its processor time


class LimitReached(Exception):
    """Raised by a renderer whose own helper program (pandoc) hit a limit."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # memory | time


def address_space_mb() -> int:
    """The address-space limit this process runs under, in MiB (0: none)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return 0 if soft == resource.RLIM_INFINITY else soft // (1024 * 1024)


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
    # Run as `-m`, this module is `__main__`: renderers raise the class of the imported module.
    reached_class = importlib.import_module(
        __spec__.name if __spec__ else "processors.rendering.render_process"
    ).LimitReached
    job = sys.stdin.buffer.read()
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
