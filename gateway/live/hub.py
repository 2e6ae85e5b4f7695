"""Live updates over WebSocket: each user's own events, a bounded queue per socket, resume.

The hub never waits for a socket: it puts each message in the socket's queue and moves on. A
socket whose queue is full cannot keep up and is closed (it may reconnect and resume), so one
slow client never delays the others. Progress of a derivation in flight is joined instead: a
socket that is behind gets the section's new text as one longer delta, so it loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import WSCloseCode, web

from contracts.live import CLOSE_SLOW_CONSUMER as SLOW_CONSUMER
from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ProgressItem:
    """Progress of one section waiting to be sent: later deltas of the section join it."""

    body: dict[str, Any]
    key: tuple[str, int, int]  # derived id, attempt, section


@dataclass(eq=False)
class Connection:
    user_id: str
    socket: web.WebSocketResponse
    items: deque[str | ProgressItem] = field(default_factory=deque)
    # Progress items not sent yet that may take more text; forgotten once an event is queued behind
    # them, so that no delta ever overtakes the event that followed it.
    gathering: dict[tuple[str, int, int], ProgressItem] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    writer: asyncio.Task[None] | None = None
    closed: bool = False
    sent: int = 0
    coalesced: int = 0
    progress_after: int = 0  # progress messages up to this stream sequence were replayed already


class Hub:
    """Who is connected, by user; delivery to each through its own queue and writer."""

    def __init__(self, metrics: GatewayMetrics, *, queue_size: int = 256) -> None:
        self.metrics = metrics
        self.queue_size = queue_size
        self.by_user: dict[str, set[Connection]] = {}
        self.last_seq = 0  # the newest stream sequence the gateway has delivered
        self.last_progress_seq = 0  # the same, of the progress stream
        self._closing: set[asyncio.Task[None]] = set()  # held until done, so none is collected mid-close

    def open(self, user_id: str, socket: web.WebSocketResponse) -> Connection:
        connection = Connection(user_id, socket)
        self.by_user.setdefault(user_id, set()).add(connection)
        self.metrics.sockets.inc()
        return connection

    def start(self, connection: Connection) -> None:
        connection.writer = asyncio.create_task(self._write(connection))

    def close(self, connection: Connection) -> None:
        if connection.closed:
            return
        connection.closed = True
        self.metrics.sockets.dec()
        peers = self.by_user.get(connection.user_id)
        if peers is not None:
            peers.discard(connection)
            if not peers:
                del self.by_user[connection.user_id]
        if connection.writer is not None:
            connection.writer.cancel()

    def deliver(self, user_id: str, message: str, seq: int) -> None:
        """Queue `message` for every socket of `user_id`; never waits."""
        self.last_seq = max(self.last_seq, seq)
        for connection in list(self.by_user.get(user_id, ())):
            connection.gathering.clear()
            self._queue(connection, message)

    def deliver_progress(self, user_id: str, body: dict[str, Any], seq: int) -> None:
        """Queue a progress message for every socket of `user_id`, joining it to the same section's
        unsent one when the socket is behind: a slow client gets fewer, longer deltas, none lost."""
        self.last_progress_seq = max(self.last_progress_seq, seq)
        key = (str(body["derived_id"]), int(body["attempt"]), int(body["section"]))
        for connection in list(self.by_user.get(user_id, ())):
            if seq <= connection.progress_after:
                continue  # it had this one in its replay
            waiting = connection.gathering.get(key)
            if waiting is None:
                item = ProgressItem(dict(body), key)
                connection.gathering[key] = item
                self._queue(connection, item)
                continue
            merged = waiting.body
            if body.get("restart"):
                merged["delta"], merged["restart"] = body["delta"], True
            else:
                merged["delta"] += body["delta"]
            merged["done"] = merged["done"] or body["done"]
            merged["seq"], merged["progress_id"] = body["seq"], body["progress_id"]
            connection.coalesced += 1
            self.metrics.coalesced.inc()

    def _queue(self, connection: Connection, item: str | ProgressItem) -> None:
        if len(connection.items) >= self.queue_size:
            log.warning("closing a socket of %s that fell %d messages behind", connection.user_id, self.queue_size)
            self.metrics.dropped_sockets.inc()
            self.close(connection)
            closing = asyncio.create_task(self._close_slow(connection))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            return
        connection.items.append(item)
        connection.wake.set()

    async def _close_slow(self, connection: Connection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                connection.socket.close(code=SLOW_CONSUMER, message=b"too slow: reconnect and resume"), 1.0
            )

    async def _write(self, connection: Connection) -> None:
        try:
            while True:
                while not connection.items:
                    connection.wake.clear()
                    await connection.wake.wait()
                item = connection.items.popleft()
                if isinstance(item, ProgressItem):
                    if connection.gathering.get(item.key) is item:
                        del connection.gathering[item.key]  # sent: what comes next starts a new message
                    text = msgspec.json.encode(item.body).decode()
                else:
                    text = item
                await connection.socket.send_str(text)
                connection.sent += 1
        except (ConnectionResetError, RuntimeError):
            self.close(connection)

    async def close_all(self) -> None:
        for connections in list(self.by_user.values()):
            for connection in list(connections):
                self.close(connection)
                with contextlib.suppress(Exception):
                    await connection.socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


def client_message(subject: str, event: dict[str, Any], seq: int) -> tuple[str, str] | None:
    """The message a client sees for a stream event, and whose it is; None for what clients do not see."""
    kind = event.get("event")
    user_id = event.get("user_id")
    if not kind or not user_id:
        return None
    common = {"id": seq, "event_id": event.get("event_id"), "occurred_at": event.get("occurred_at")}
    if kind == "blob.created" and event.get("parent_id") and event.get("processor_id") != "user":
        body = {
            "type": "blob.derived",
            "parent_id": event["parent_id"],
            "derived_id": event["blob_id"],
            "processor": event["processor_id"],
            "schema_id": event.get("schema_id"),
            "preview": event.get("preview", ""),
            "book_id": event.get("book_id"),
            "chapter": event.get("chapter"),
        }
    elif kind in ("blob.created", "blob.updated", "blob.deleted"):
        body = {
            "type": kind,
            "blob_id": event["blob_id"],
            "schema_id": event.get("schema_id"),
            "version": event.get("version"),
            "processor": event.get("processor_id"),
            "book_id": event.get("book_id"),
            "chapter": event.get("chapter"),
        }
    elif kind == "processor.failed":
        body = {
            "type": "processor.failed",
            "processor": event.get("processor_id"),
            "blob_id": event.get("blob_id"),
            "source_version": event.get("source_version"),
            "book_id": event.get("book_id"),
            "request_id": event.get("request_id"),
            "reason": event.get("reason"),
        }
    elif kind == "book.updated":
        body = {"type": "book.updated", "book_id": event["book_id"], "fields": event.get("fields", [])}
    elif kind == "book.compiled":
        body = {
            "type": "book.compiled",
            "book_id": event["book_id"],
            "blob_id": event["blob_id"],
            "version": event["version"],
            "request_id": event.get("request_id"),
            "chapter_count": event.get("chapter_count"),
            "word_count": event.get("word_count"),
        }
    else:
        return None
    return str(user_id), msgspec.json.encode({**body, **common}).decode()


def progress_message(event: dict[str, Any], seq: int) -> tuple[str, dict[str, Any]] | None:
    """The message a client sees for a progress stream message (`progress_id` is its sequence), and whose it is."""
    user_id = event.get("user_id")
    if event.get("event") != "blob.progress" or not isinstance(user_id, str):
        return None
    body = {
        "type": "blob.progress",
        "progress_id": seq,
        "parent_id": event.get("parent_id"),
        "parent_version": event.get("parent_version"),
        "derived_id": event.get("derived_id"),
        "processor": event.get("processor_id"),
        "attempt": event.get("attempt", 1),
        "section": event.get("section", 0),
        "sections": event.get("sections", 1),
        "seq": event.get("seq", 0),
        "delta": event.get("delta", ""),
        "done": bool(event.get("done", False)),
        "restart": bool(event.get("restart", False)),
    }
    if not isinstance(body["derived_id"], str) or not isinstance(body["delta"], str):
        return None
    return user_id, body
