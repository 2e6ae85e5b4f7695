"""What PostgreSQL processors share: a pool, migrations that are safe to run twice, an outbox."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec
from nats.js import JetStreamContext

from servicekit.retry import RELAY, Backoff

log = logging.getLogger(__name__)

OUTBOX_MIGRATION = """
CREATE TABLE outbox (
    event_id     TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
"""


async def _json_codecs(connection: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(
            kind, encoder=lambda v: msgspec.json.encode(v).decode(), decoder=msgspec.json.decode, schema="pg_catalog"
        )


async def open_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool (JSON columns as Python values) that fails at start, clearly, when the database cannot be reached."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size, command_timeout=30, init=_json_codecs)
    assert pool is not None
    return pool


async def migrate(pool: asyncpg.Pool, name: str, migrations: Sequence[str]) -> int:
    """Apply the migrations not yet applied, in order, in one transaction; returns how many ran.

    An advisory lock serialises instances starting together; `schema_migrations` remembers what ran.
    """
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", name)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
        ran = 0
        for number, statement in enumerate(migrations, start=1):
            if number in applied:
                continue
            await connection.execute(statement)
            await connection.execute("INSERT INTO schema_migrations (version) VALUES ($1)", number)
            ran += 1
        return ran


async def enqueue(connection: asyncpg.Connection, subject: str, event_id: str, event: Any) -> None:
    """Queue an event in the caller's transaction; the same event id twice is one event."""
    await connection.execute(
        "INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
        event_id,
        subject,
        msgspec.json.encode(event),
    )


class PgOutboxRelay:
    """Publishes queued events with Nats-Msg-Id = event_id and marks them after the broker's ack.

    `notify()` after a commit publishes at once; a scan every few seconds publishes what a crash
    left behind (only rows a little old, so it does not overtake the writer that just queued them).
    """

    def __init__(
        self, pool: asyncpg.Pool, js: JetStreamContext, *, scan_seconds: float = 2.0, keep_days: int = 7
    ) -> None:
        self._pool = pool
        self._js = js
        self._scan_seconds = scan_seconds
        self._keep_days = keep_days
        self._wake = asyncio.Event()
        self.published = 0

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        last_scan = 0.0
        backoff = Backoff(RELAY)
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._scan_seconds)
                fresh = True
            except TimeoutError:
                fresh = False
            self._wake.clear()
            try:
                await self.relay(min_age_seconds=0.0 if fresh else self._scan_seconds)
                if time.monotonic() - last_scan > 3600:
                    await self._pool.execute(
                        "DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1)", self._keep_days
                    )
                    last_scan = time.monotonic()
                backoff.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: the rows stay; try again
                log.warning("outbox relay failed (%s: %s); retrying", type(exc).__name__, exc)
                await backoff.wait()

    async def relay(self, *, min_age_seconds: float = 0.0) -> int:
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                "SELECT event_id, subject, payload FROM outbox WHERE published_at IS NULL"
                " AND created_at <= now() - make_interval(secs => $1)"
                " ORDER BY created_at LIMIT 200 FOR UPDATE SKIP LOCKED",
                min_age_seconds,
            )
            for row in rows:
                await self._js.publish(row["subject"], bytes(row["payload"]), headers={"Nats-Msg-Id": row["event_id"]})
            if rows:
                await connection.execute(
                    "UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::text[])",
                    [r["event_id"] for r in rows],
                )
        self.published += len(rows)
        return len(rows)


class PgStore:
    """A processor's PostgreSQL store: a pool opened at start, its migrations applied, closed at stop."""

    def __init__(self, url: str, *, name: str, migrations: Sequence[str], storage_location: str) -> None:
        self._url = url
        self._name = name
        self._migrations = migrations
        self._pool: asyncpg.Pool | None = None
        self.storage_location = storage_location

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the store is not open"
        return self._pool

    async def open(self) -> None:
        self._pool = await open_pool(self._url)
        await migrate(self._pool, self._name, self._migrations)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def ready(self) -> None:
        await self.pool.fetchval("SELECT 1")
