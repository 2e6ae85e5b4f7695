"""The one-machine supervisor behind `make up` and the tests.

Starts the backing servers, then every service, each as its own process and each only once the
one before it is ready; restarts any that exits (like a compose restart policy, with back-off);
describes the running stack in `$STUDIO_DATA_DIR/stack.json`; on SIGTERM or Ctrl-C stops the
services, then the backing servers, and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from servicekit.retry import RESTART, Backoff

from . import secrets
from .backing import (
    PG_PROCESSORS,
    NatsRoutes,
    embedded_mongo_url,
    mongo_spec,
    nats_spec,
    postgres_spec,
    provision_databases,
    wait_for_jetstream,
)
from .children import Child, ChildSpec, python_module
from .settings import PROCESSOR_MODULES, StackSettings, port_key
from .topology import instance_name, port_name

log = logging.getLogger("studio.supervisor")

STACK_FILE = "stack.json"
TEXT_EXPANSION_MONGO = "mongo-text-expansion"
BACKING = ("mongo", TEXT_EXPANSION_MONGO, "nats", "nats-2", "nats-3", "postgres")
READY_TIMEOUT = 90.0
STABLE_AFTER = 30.0  # a child up this long has its back-off reset


def http_ready(url: str) -> Any:
    async def ready() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/readyz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status != 200:
                    raise ConnectionError(f"{url}/readyz answered {response.status}")

    return ready


class Supervisor:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.children: list[Child] = []
        self.stopping = asyncio.Event()
        self.secrets: dict[str, str] = {}
        self.databases: dict[str, str] = {}
        self._watchers: list[asyncio.Task[None]] = []

    # Plan -----------------------------------------------------------------------------------------

    def nats_url(self) -> str:
        """Every NATS node's URL, comma-separated: clients fail over between them on their own."""
        s = self.settings
        nodes = range(1, s.topology.nats_nodes + 1)
        return ",".join(f"nats://{s.host}:{s.ports[port_name('nats', n)]}" for n in nodes)

    def nats_specs(self) -> list[ChildSpec]:
        """One nats-server, or the nodes of a three-node cluster routed to each other."""
        s = self.settings
        if s.topology.nats_nodes == 1:
            return [nats_spec(self.data_dir, s.host, s.ports["nats"])]
        nodes = range(1, s.topology.nats_nodes + 1)
        route_ports = tuple(s.ports[port_name("nats_route", n)] for n in nodes)
        return [
            nats_spec(
                self.data_dir,
                s.host,
                s.ports[port_name("nats", n)],
                name=instance_name("nats", n),
                routes=NatsRoutes(s.ports[port_name("nats_route", n)], route_ports),
            )
            for n in nodes
        ]

    def service_specs(self) -> list[ChildSpec]:
        """The index service, each instance of the processors this machine runs, then the gateways."""
        s, host, topology = self.settings, self.settings.host, self.settings.topology
        common = {
            **os.environ,
            "STUDIO_SERVICE_TOKEN": self.secrets["service_token"],
            "STUDIO_DATA_DIR": str(self.data_dir),
            "STUDIO_NATS_URL": self.nats_url(),
            "STUDIO_INDEX_URL": f"http://{host}:{s.ports['index']}",
            "STUDIO_STREAM_REPLICAS": str(topology.stream_replicas),
        }
        mongo_url = embedded_mongo_url(host, s.ports["mongo"])
        self.databases["index"] = mongo_url.replace("/?", "/studio_index?")
        # Text expansion keeps its database on a server of its own: owners do not take turns.
        expansion_url = embedded_mongo_url(host, s.ports["text_expansion_mongo"])
        self.databases["text-expansion"] = expansion_url.replace("/?", "/studio_text_expansion?")
        # With the demo, the offline expander writes at a reading pace, so that expansions are seen streaming.
        pace = (
            {"STUDIO_TEXT_EXPANSION_OFFLINE_WORDS_PER_SECOND": "40"}
            if s.demo and not os.environ.get("STUDIO_TEXT_EXPANSION_OFFLINE_WORDS_PER_SECOND")
            else {}
        )
        own_database = {
            "text-expansion": {"STUDIO_TEXT_EXPANSION_MONGO_URL": self.databases["text-expansion"], **pace},
            "book-compiler": {"STUDIO_BOOK_COMPILER_PG_URL": self.databases["book-compiler"]},
            "pitch-builder": {"STUDIO_PITCH_BUILDER_PG_URL": self.databases["pitch-builder"]},
            "summary": {"STUDIO_SUMMARY_PG_URL": self.databases["summary"]},
        }

        def spec(name: str, module: str, key: str, number: int, env: dict[str, str]) -> ChildSpec:
            # Every instance of a service reads the same STUDIO_<KEY>_* variables; only its port differs.
            port = s.ports[port_name(key, number)]
            url = f"http://{host}:{port}"
            prefix = f"STUDIO_{key.upper()}"
            env = {**common, **env, f"{prefix}_HOST": host, f"{prefix}_PORT": str(port)}
            name = instance_name(name, number)
            return ChildSpec(
                name, python_module(module), env, self.data_dir / "logs" / f"{name}.log", http_ready(url), url
            )

        index = spec("index", "index_service", "index", 1, {"STUDIO_INDEX_MONGO_URL": mongo_url})
        processors = [
            spec(name, PROCESSOR_MODULES[name], port_key(name), number, own_database[name])
            for name in s.processors
            for number in range(1, topology.replicas + 1)
        ]
        gateways = [
            spec("gateway", "gateway", "gateway", number, {"STUDIO_JWT_SECRET": self.secrets["jwt_secret"]})
            for number in range(1, topology.gateways + 1)
        ]
        return [index, *processors, *gateways]

    # Lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything in order, waiting for each to be ready; write stack.json."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.secrets = secrets.load_or_create(
            self.data_dir, jwt_secret=self.settings.jwt_secret, service_token=self.settings.service_token
        )
        s = self.settings
        postgres, layout = postgres_spec(self.data_dir, s.host, s.ports["postgres"], self.secrets["postgres_password"])
        backing = [mongo_spec(self.data_dir, s.host, s.ports["mongo"]), *self.nats_specs(), postgres]
        if "text-expansion" in s.processors:
            backing.append(
                mongo_spec(self.data_dir, s.host, s.ports["text_expansion_mongo"], name=TEXT_EXPANSION_MONGO)
            )
        for spec in backing:
            await self._launch(spec)
        if s.topology.nats_nodes > 1:
            await wait_for_jetstream(self.nats_url(), READY_TIMEOUT)
        self.databases.update(
            await provision_databases(
                layout,
                {processor: self.secrets[f"{database}_db_password"] for processor, database in PG_PROCESSORS.items()},
            )
        )
        for spec in self.service_specs():
            await self._launch(spec)
        self.write_stack()

    async def _launch(self, spec: ChildSpec) -> None:
        child = Child(spec)
        started = time.monotonic()
        await child.start()
        self.children.append(child)
        await child.wait_ready(READY_TIMEOUT)
        log.info("%s ready at %s (pid %s, %.1fs)", spec.name, spec.url, child.pid, time.monotonic() - started)
        self._watchers.append(asyncio.create_task(self._watch(child), name=f"watch-{spec.name}"))

    async def _watch(self, child: Child) -> None:
        """Restart `child` whenever it exits while the stack is running."""
        backoff = Backoff(RESTART)
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - child.started_at > STABLE_AFTER:
                backoff.succeeded()
            wait = backoff.failed()
            child.restarts += 1
            log.warning(
                "%s exited with code %s; restart #%d in %.1fs (log: %s)",
                child.spec.name,
                code,
                child.restarts,
                wait,
                child.spec.log_path,
            )
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=wait)
                return
            except TimeoutError:
                pass
            await child.start()
            try:
                await child.wait_ready(READY_TIMEOUT)
                log.info("%s restarted (pid %s)", child.spec.name, child.pid)
            except RuntimeError as exc:
                log.error("%s did not come back: %s", child.spec.name, exc)
            self.write_stack()

    async def stop(self) -> None:
        """Stop services first, then the backing servers, in reverse order of start."""
        self.stopping.set()
        for child in reversed(self.children):
            await child.stop()
            log.info("%s stopped", child.spec.name)
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        (self.data_dir / STACK_FILE).unlink(missing_ok=True)

    # Description ----------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        by_name = {c.spec.name: c for c in self.children}
        entry = lambda c: {"url": c.spec.url, "pid": c.pid, "restarts": c.restarts, "log": str(c.spec.log_path)}  # noqa: E731
        backing = BACKING
        gateways = [c.spec.url for c in self.children if c.spec.name.startswith("gateway")]
        return {
            "supervisor_pid": os.getpid(),
            "data_dir": str(self.data_dir),
            "topology": self.settings.topology.name,
            "services": {n: entry(c) for n, c in by_name.items() if n not in backing},
            **{n: entry(by_name[n]) for n in backing if n in by_name},
            "nats_url": self.nats_url(),
            "databases": self.databases,
            "gateway": gateways[0] if gateways else None,
            "gateways": gateways,
        }

    def write_stack(self) -> None:
        path = self.data_dir / STACK_FILE
        tmp = path.with_suffix(".tmp")
        # The file holds database passwords: readable by the owner only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.describe(), handle, indent=2)
        os.replace(tmp, path)


async def run(settings: StackSettings, *, on_ready: Any = None) -> int:
    """Run the stack until SIGTERM or SIGINT; `on_ready(supervisor)` runs once all is up."""
    supervisor = Supervisor(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, supervisor.stopping.set)
    try:
        try:
            await supervisor.start()
        except Exception as exc:
            log.error("the stack did not start: %s", exc)
            return 1
        if on_ready is not None and not supervisor.stopping.is_set():
            await on_ready(supervisor)
        await supervisor.stopping.wait()
        log.info("stopping")
        return 0
    finally:
        await supervisor.stop()


def stack_file(data_dir: Path) -> Path:
    return data_dir / STACK_FILE
