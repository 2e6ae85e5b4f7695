"""The real one-machine stack as tests and benchmarks use it: the supervisor in a subprocess on free ports."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose.backing import embedded_mongo_url
from compose.settings import DEFAULT_PORTS
from compose.supervisor import BACKING
from servicekit.auth import issue_token

ROOT = Path(__file__).resolve().parent.parent  # where `python -m compose` is found
PORT_NAMES = tuple(DEFAULT_PORTS)
SECRET_VARIABLES = ("TOKEN", "SECRET", "PASSWORD")  # an extra setting whose name ends so is a secret


def _ephemeral_range() -> range:
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, below the kernel's ephemeral range, never handed out twice.

    A port the kernel picks (bind to 0) comes from the range it also uses for outgoing
    connections, so a server started later on it can find it taken by some client's socket.
    """
    ephemeral = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(20000, 32768)
        if port in _handed_out or port in ephemeral:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as sock:  # a crowded machine: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Stack:
    data_dir: Path
    ports: dict[str, int]
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def index(self) -> str:
        return f"http://127.0.0.1:{self.ports['index']}"

    @property
    def text_expansion(self) -> str:
        return f"http://127.0.0.1:{self.ports['text_expansion']}"

    @property
    def book_compiler(self) -> str:
        return f"http://127.0.0.1:{self.ports['book_compiler']}"

    @property
    def pitch_builder(self) -> str:
        return f"http://127.0.0.1:{self.ports['pitch_builder']}"

    @property
    def summary(self) -> str:
        return f"http://127.0.0.1:{self.ports['summary']}"

    @property
    def nats_url(self) -> str:
        """Every NATS node's URL, comma-separated (one URL unless the stack is a cluster)."""
        return str(self.info.get("nats_url") or f"nats://127.0.0.1:{self.ports['nats']}")

    @property
    def gateways(self) -> list[str]:
        """Every gateway's URL: one, or two in the cluster topology."""
        return list(self.info.get("gateways") or [self.gateway])

    @property
    def mongo_url(self) -> str:
        return embedded_mongo_url("127.0.0.1", self.ports["mongo"])

    @property
    def metrics_headers(self) -> dict[str, str]:
        """What a scrape of any service's `/metrics` sends: the scrape token (STUDIO_METRICS_TOKEN,
        else the service token)."""
        token = self.extra_env.get("STUDIO_METRICS_TOKEN") or self.secrets["service_token"]
        return {"Authorization": f"Bearer {token}"}

    @property
    def stack_file(self) -> Path:
        return self.data_dir / "stack.json"

    def env(self) -> dict[str, str]:
        # The stack is configured here alone: not by the STUDIO_* or OTEL_* variables of whoever runs it.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "OTEL_"))}
        env["STUDIO_DATA_DIR"] = str(self.data_dir)
        env["STUDIO_DEMO"] = "false"
        for name, port in self.ports.items():
            env[f"STUDIO_{name.upper()}_PORT"] = str(port)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> None:
        self.stack_file.unlink(missing_ok=True)
        log = open(self.data_dir / "supervisor.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compose", "up", "--no-demo"], cwd=ROOT, env=self.env(), stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.stack_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited with {self.process.returncode}:\n{self.supervisor_log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the stack did not start in {timeout}s:\n{self.supervisor_log()}")
            time.sleep(0.1)
        self.refresh()
        self.secrets = json.loads((self.data_dir / "secrets.json").read_text())

    def refresh(self) -> dict[str, Any]:
        self.info = json.loads(self.stack_file.read_text())
        return self.info

    def pids(self) -> list[int]:
        info = self.refresh() if self.stack_file.exists() else self.info
        found = [s["pid"] for s in info.get("services", {}).values()]
        found += [info[name]["pid"] for name in BACKING if name in info]
        return [p for p in found if p]

    def stop(self, timeout: float = 60.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def supervisor_log(self) -> str:
        path = self.data_dir / "supervisor.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def log_files(self) -> list[Path]:
        """Every log the stack writes: the supervisor's and each child's (services and backing servers)."""
        return [
            p
            for p in [self.data_dir / "supervisor.log", *sorted((self.data_dir / "logs").glob("*.log"))]
            if p.is_file()
        ]

    def secret_values(self) -> list[str]:
        """Every secret the stack holds: the generated ones and any secret setting it was given."""
        given = [v for k, v in self.extra_env.items() if k.endswith(SECRET_VARIABLES) and v]
        return sorted({*self.secrets.values(), *given})


_log_archive: Path | None = None


def keep_logs_in(directory: Path | None) -> None:
    """From now on, a stack that `running_stack` removes leaves its logs and the list of its secrets
    in a folder of `directory` (None: nothing is kept), so that a test run can read them afterwards."""
    global _log_archive
    _log_archive = directory


def _archive_logs(stack: Stack) -> None:
    if _log_archive is None:
        return
    kept = _log_archive / stack.data_dir.name
    kept.mkdir(parents=True, exist_ok=True)
    for path in stack.log_files():
        shutil.copyfile(path, kept / path.name)
    fd = os.open(kept / "secrets.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(stack.secret_values(), handle)


def call(stack: Stack, user_id: str, method: str, path: str, body: Any = None, *, timeout: float = 30.0) -> Any:
    """The public API as `user_id`, blocking: what another device does, from a test or a benchmark."""
    request = urllib.request.Request(
        stack.gateway + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user_id)}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
    return json.loads(text) if text else None


def new_stack(**extra_env: str) -> Stack:
    """A stack on free ports in a new data dir; `extra_env` adds STUDIO_* settings of its own."""
    data_dir = Path(tempfile.mkdtemp(prefix="studio-test-"))  # mode 0700, as careful users make it
    return Stack(data_dir=data_dir, ports={name: free_port() for name in PORT_NAMES}, extra_env=extra_env)


class ServiceProcess:
    """One service started by hand beside a running stack (tests start extra or odd instances)."""

    def __init__(self, module: str, env: dict[str, str], log: Path, port: int) -> None:
        self.module = module
        self.env = env
        self.log = log
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_headers(self) -> dict[str, str]:
        """What a scrape of its `/metrics` sends (the scrape token, else the service token)."""
        return {"Authorization": f"Bearer {self.env.get('STUDIO_METRICS_TOKEN') or self.env['STUDIO_SERVICE_TOKEN']}"}

    @classmethod
    def text_expansion(cls, stack: Stack, database: str, log_dir: Path, **env: str) -> ServiceProcess:
        """A text expansion instance beside `stack`, on a free port, with its own database; `env` adds settings."""
        port = free_port()
        settings = {
            "STUDIO_SERVICE_TOKEN": stack.secrets["service_token"],
            "STUDIO_TEXT_EXPANSION_PORT": str(port),
            "STUDIO_TEXT_EXPANSION_MONGO_URL": stack.mongo_url,
            "STUDIO_TEXT_EXPANSION_DATABASE": database,
            "STUDIO_INDEX_URL": stack.index,
            "STUDIO_NATS_URL": stack.nats_url,
            **env,
        }
        return cls("processors.text_expansion", settings, log_dir / f"text-expansion-{port}.log", port)

    def start(self, **overrides: str) -> None:
        # The stack is configured here alone: not by the STUDIO_* or OTEL_* variables of whoever runs it.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "OTEL_"))}
        env.update(self.env)
        env.update(overrides)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=ROOT, env=env, stdout=log, stderr=log
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.module} not ready after {timeout}s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)


@contextlib.contextmanager
def running_stack(**extra_env: str) -> Iterator[Stack]:
    """A started stack, stopped and its data dir removed afterwards."""
    stack = new_stack(**extra_env)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        _archive_logs(stack)
        shutil.rmtree(stack.data_dir, ignore_errors=True)
