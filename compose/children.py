"""One child process of the supervisor: how to start it, when it is ready, how to stop it."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import pwd
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("studio.supervisor")

PR_SET_PDEATHSIG = 1
ReadyCheck = Callable[[], Awaitable[None]]


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A pre-exec hook: the kernel signals the child when the supervisor dies, even by kill -9."""

    def hook() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)

    return hook


def run_as(user: str | None) -> dict[str, Any]:
    """subprocess keywords that run a program as `user` with that account's own groups only.

    Changing the user alone keeps root's group (gid 0) and its supplementary groups: a data dir of
    mode 0700 or 0750 owned by root:root would then be judged by its group bits, which deny.
    """
    if user is None:
        return {}
    account = pwd.getpwnam(user)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": os.getgrouplist(user, account.pw_gid)}


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: ReadyCheck
    url: str
    stop_signal: int = signal.SIGTERM
    user: str | None = None
    cwd: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.spec.log_path, "ab") as log_file:  # noqa: ASYNC230  a local log file, once per (re)start
            self.process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                env=self.spec.env,
                cwd=self.spec.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                **run_as(self.spec.user),
                preexec_fn=_die_with_parent(self.spec.stop_signal),
            )
        self.started_at = time.monotonic()

    async def wait_ready(self, timeout: float) -> None:
        """Poll the readiness check until it passes; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is None or self.process.returncode is not None:
                raise RuntimeError(f"{self.spec.name} exited during start; see {self.spec.log_path}\n{self.log_tail()}")
            try:
                await asyncio.wait_for(self.spec.ready(), timeout=5)
                return
            except Exception as exc:  # not ready yet, whatever the check raised
                last = exc
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.spec.name} not ready after {timeout:.0f}s ({last}); see {self.spec.log_path}")

    async def stop(self, timeout: float = 15.0) -> None:
        """Signal the process and wait; kill it if it does not exit in time."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            process.send_signal(self.spec.stop_signal)
            await asyncio.wait_for(process.wait(), timeout=timeout)
        except ProcessLookupError:
            pass
        except TimeoutError:
            log.warning("%s did not stop within %.0fs; killing it", self.spec.name, timeout)
            process.kill()
            await process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.spec.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def venv_tool(name: str) -> str:
    """A console script installed beside this interpreter (the embedded servers' launchers)."""
    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run `make install` (the `embedded` extra provides it)")
    return found
