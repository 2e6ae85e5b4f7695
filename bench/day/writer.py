"""A simulated writer: a book, one or two devices with a socket each, and a day's work through the
public API, at a person's pace. Every answer is recorded; the promises are timed from the sockets."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from servicekit.auth import issue_token
from studio_testing.harness import Stack

from . import plan
from .record import Record

SAVED, EVENT, VALIDATION, EXPANDED = range(4)  # the promises, as `record.PROMISES` orders them
ACK_TO_SOCKET = "a save's answer to its event on the saving device's socket"
RETRIES = 3  # a shed request (503 with Retry-After) is asked again, as the studio does


@dataclass
class Chapter:
    number: int
    id: str
    version: int
    text: str
    title: str


@dataclass
class Shared:
    """What every writer of a run shares: the stack, one HTTP session, the bound on requests in flight."""

    stack: Stack
    session: aiohttp.ClientSession
    record: Record
    in_flight: asyncio.Semaphore
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class Device:
    """One open studio tab: a socket that hears the writer's events, resumed when it drops."""

    def __init__(self, writer: Writer, *, main: bool) -> None:
        self.writer, self.main = writer, main
        self.last_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def open(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen(self) -> None:
        shared = self.writer.shared
        while not shared.stopping.is_set():
            params = {"last_event_id": str(self.last_id)} if self.last_id is not None else {}
            try:
                async with shared.session.ws_connect(
                    f"{shared.stack.gateway}/ws",
                    headers=self.writer.headers,
                    params=params,
                    heartbeat=None,
                    max_msg_size=0,
                ) as ws:
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            self._heard(message.json())
            except (TimeoutError, aiohttp.ClientError):
                pass
            if not shared.stopping.is_set():
                shared.record.reconnects += 1
                await asyncio.sleep(0.5)

    def _heard(self, body: dict[str, Any]) -> None:
        now = time.time()
        record, writer = self.writer.shared.record, self.writer
        kind = body.get("type", "")
        record.socket_messages[kind] += 1
        if kind == "processor.failed":
            reason = " ".join(str(body.get("reason") or "").split()[:8])
            record.gave_up[(str(body.get("processor")), reason)] += 1
        if kind == "ready":
            self.ready.set()
        if isinstance(body.get("id"), int):
            self.last_id = body["id"]
        if body.get("occurred_at"):
            record.promise(EVENT, now - datetime.fromisoformat(body["occurred_at"]).timestamp())
        if kind == "blob.updated" and not self.main:
            started = writer.saves.pop((body["blob_id"], body["version"]), None)
            if started is not None:
                record.promise(SAVED, now - started)
        if kind == "blob.updated" and self.main:
            acked = writer.acks.pop((body["blob_id"], body["version"]), None)
            if acked is not None:
                record.timing(ACK_TO_SOCKET, now - acked)
            else:
                writer.heard[(body["blob_id"], body["version"])] = now  # before the answer: the answer times it
        if kind == "blob.derived" and body.get("processor") == "text-expansion":
            started = writer.probes.pop(body["parent_id"], None)
            if started is not None:
                record.promise(EXPANDED, now - started)
        if kind == "book.compiled":
            writer.compiled.set()


class Writer:
    def __init__(self, shared: Shared, number: int, seed: int) -> None:
        self.shared = shared
        self.rng = random.Random(seed * 1_000_003 + number)
        self.user_id = f"day-{seed}-{number}"
        self.book_id = "book"
        self.shape = plan.shape(self.rng)
        self.headers = {"Authorization": f"Bearer {issue_token(shared.stack.secrets['jwt_secret'], self.user_id)}"}
        self.chapters: dict[int, Chapter] = {}
        self.current = 1
        self.pitch: dict[str, Any] = {}
        self.devices = [Device(self, main=n == 0) for n in range(self.shape.devices)]
        self.saves: dict[tuple[str, int], float] = {}  # (blob, version) saved by the main device -> when
        self.acks: dict[tuple[str, int], float] = {}  # (blob, version) saved -> when its answer came
        self.heard: dict[tuple[str, int], float] = {}  # (blob, version) whose event came before its answer
        self.probes: dict[str, float] = {}  # 1,000-word drafts whose expansion is awaited -> when saved
        self.compiled = asyncio.Event()
        self.consistency: str | None = None

    # Requests ------------------------------------------------------------------------------------

    async def call(
        self, name: str, method: str, path: str, *, expected: tuple[int, ...] = (), **kwargs: Any
    ) -> tuple[int, Any]:
        """One request as the studio makes it (a shed one asked again after its Retry-After), recorded."""
        shared = self.shared
        headers = {**self.headers, **kwargs.pop("headers", {})}
        for attempt in range(RETRIES + 1):
            async with shared.in_flight:
                started = time.perf_counter()
                try:
                    async with shared.session.request(
                        method, shared.stack.gateway + path, headers=headers, **kwargs
                    ) as response:
                        body = await response.read()
                        status = response.status
                        retry = float(response.headers.get("Retry-After", "0") or 0)
                        served = response.headers.get("X-Cache")  # a book view: hit, miss, shared, bypass
                        if "Studio-Consistency" in response.headers:
                            self.consistency = response.headers["Studio-Consistency"]
                except (TimeoutError, aiohttp.ClientError):
                    status, body, retry, served = 599, b"", 0.0, None  # no answer: counted as a failure of the server
                took = time.perf_counter() - started
            if status == 503 and retry and attempt < RETRIES:
                shared.record.operation(f"{name} (shed, asked again)", took, status, expected=(503,))
                await asyncio.sleep(retry)
                continue
            shared.record.operation(f"{name} ({served})" if served else name, took, status, expected=expected)
            return status, (_json(body) if body else None)
        raise AssertionError("unreachable")

    # Before the clock ----------------------------------------------------------------------------

    async def setup(self) -> None:
        """The book, its chapters and the pitch notes, through the public API; then the sockets."""
        await self.call(
            "setup", "POST", f"/api/v1/users/{self.user_id}/books", json={"id": self.book_id, "title": "Salt Ledger"}
        )
        for number, words in enumerate(self.shape.chapter_words, 1):
            await self._create(number, plan.prose(self.rng, words), "setup")
        notes = {
            "title": "Salt Ledger",
            "logline": "A keeper's ledger names the ships that will sink next winter.",
            "book_id": self.book_id,
        }
        status, body = await self.call(
            "setup", "POST", "/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": notes}
        )
        if status == 201:
            self.pitch = {"id": body["id"], "version": body["version"], "data": notes}
        for device in self.devices:
            device.open()
        await asyncio.gather(*(d.ready.wait() for d in self.devices))

    async def _create(self, number: int, text: str, name: str) -> Chapter | None:
        title = f"Tide {number}"
        body = {
            "schema_id": "text-input-v1",
            "data": {"content": text, "metadata": {"book_id": self.book_id, "chapter": number, "title": title}},
        }
        status, found = await self.call(name, "POST", "/api/v1/blobs", json=body)
        if status != 201:
            return None
        chapter = Chapter(number, found["id"], found["version"], text, title)
        self.chapters[number] = chapter
        return chapter

    # The day -------------------------------------------------------------------------------------

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            await asyncio.sleep(min(plan.think(self.rng), max(0.0, until - time.monotonic())))
            if time.monotonic() >= until:
                break
            await getattr(self, f"_{plan.next_action(self.rng)}")()

    def _open_chapter(self) -> Chapter:
        chapter = self.chapters.get(self.current)
        if chapter is None or chapter.id in self.probes:
            typing = [c for c in self.chapters.values() if c.id not in self.probes]
            chapter = self.rng.choice(typing)
            self.current = chapter.number
        return chapter

    async def _put(self, name: str, chapter: Chapter, text: str, title: str) -> int:
        data = {"content": text, "metadata": {"book_id": self.book_id, "chapter": chapter.number, "title": title}}
        saved = (chapter.id, chapter.version + 1)
        if len(self.devices) > 1:  # the other device times it from here to its socket
            self.saves[saved] = time.time()
        status, found = await self.call(
            name, "PUT", f"/api/v1/blobs/{chapter.id}", json={"data": data, "version": chapter.version}
        )
        if status == 200:
            chapter.version, chapter.text, chapter.title = found["version"], text, title
            if self.heard.pop((chapter.id, chapter.version), None) is not None:
                self.shared.record.timing(ACK_TO_SOCKET, 0.0)
            else:
                self.acks[(chapter.id, chapter.version)] = time.time()
        else:
            self.saves.pop(saved, None)
        return status

    async def _save(self) -> None:
        chapter = self._open_chapter()
        await self._put("save draft", chapter, plan.typed(self.rng, chapter.text), chapter.title)

    async def _rename(self) -> None:
        chapter = self._open_chapter()
        await self._put(
            "rename chapter", chapter, chapter.text, f"{chapter.title.split(':')[0]}: {plan.sentence(self.rng)[:40]}"
        )

    async def _invalid(self) -> None:
        chapter = self._open_chapter()
        data = {"content": "too short", "metadata": {"book_id": self.book_id, "chapter": chapter.number}}
        started = time.perf_counter()
        status, _ = await self.call(
            "save refused by the schema", "PUT", f"/api/v1/blobs/{chapter.id}", json={"data": data}, expected=(422,)
        )
        if status == 422:
            self.shared.record.promise(VALIDATION, time.perf_counter() - started)

    async def _view(self) -> None:
        headers = {"Studio-Consistency": self.consistency} if self.consistency else {}
        await self.call("book view", "GET", f"/api/v1/users/{self.user_id}/books/{self.book_id}", headers=headers)

    async def _list(self) -> None:
        await self.call(
            "blob list", "GET", f"/api/v1/users/{self.user_id}/blobs", params={"book_id": self.book_id, "limit": "50"}
        )

    async def _state(self) -> None:
        await self.call("dashboard state", "GET", f"/api/v1/users/{self.user_id}/state")

    async def _open(self) -> None:
        chapter = self.rng.choice(list(self.chapters.values()))
        status, found = await self.call("open a draft", "GET", f"/api/v1/blobs/{chapter.id}")
        if status == 200 and chapter.id not in self.probes:
            chapter.version, chapter.text = found["version"], found["data"]["content"]
            self.current = chapter.number

    async def _delete(self) -> None:
        candidates = [c for c in self.chapters.values() if c.number != self.current and c.id not in self.probes]
        if not candidates:
            return
        chapter = self.rng.choice(candidates)
        status, _ = await self.call("delete chapter", "DELETE", f"/api/v1/blobs/{chapter.id}")
        if status == 204:
            del self.chapters[chapter.number]
            await self._create(chapter.number, plan.prose(self.rng, 150), "new chapter (after a delete)")

    async def _new(self) -> None:
        number = max(self.chapters, default=0) + 1
        started = time.time()
        chapter = await self._create(number, plan.prose(self.rng, 1000, paragraph_words=125), "new 1,000-word chapter")
        if chapter is not None:
            self.probes[chapter.id] = started

    async def _compile(self) -> None:
        self.compiled.clear()
        status, _ = await self.call(
            "compile", "POST", f"/api/v1/users/{self.user_id}/books/{self.book_id}/compile", json={"prefer": "expanded"}
        )
        if status != 202:
            return
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self.compiled.wait(), 60)
            self.shared.record.operation("compile (request to book.compiled)", time.perf_counter() - started, 200)
        except TimeoutError:
            self.shared.record.operation("compile (request to book.compiled)", time.perf_counter() - started, 504)
            return
        fmt = self.rng.choice(plan.EXPORTS)
        await self.call(
            f"download {fmt}",
            "GET",
            f"/api/v1/users/{self.user_id}/books/{self.book_id}/export",
            params={"format": fmt},
        )

    async def _pitch(self) -> None:
        if not self.pitch:
            return
        data = {**self.pitch["data"], "synopsis": plan.prose(self.rng, 80)}
        status, found = await self.call(
            "edit pitch notes",
            "PUT",
            f"/api/v1/blobs/{self.pitch['id']}",
            json={"data": data, "version": self.pitch["version"]},
        )
        if status == 200:
            self.pitch = {"id": found["id"], "version": found["version"], "data": data}

    async def close(self) -> None:
        for device in self.devices:
            await device.close()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
