"""A seeded, bounded fuzz of every write route of the gateway and of the WebSocket.

Thousands of generated bad requests (mangled bodies, hostile values, odd encodings and media
types, tricks in paths and queries) must each get a 2xx or a 4xx problem, never a 5xx, and no
service may restart. What was accepted (book metadata, drafts and pitch notes full of control
characters) then exports in every format.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import io
import json
import random
import zlib
from typing import Any

import aiohttp
from yarl import URL

from contracts.models import BOOK_EXPORT_FORMATS, PITCH_EXPORT_FORMATS
from studio_testing.harness import Stack
from studio_testing.payloads import draft, token_for
from studio_testing.waiting import eventually

SEED = 20261122
HTTP_REQUESTS = 2400
SOCKET_MESSAGES = 400
CONCURRENCY = 8
PITCHES_EXPORTED = 4

# Control characters a word processor pastes (and others): accepted text must render in every format.
CONTROLS = ["\u000b", "a\u0007b", "\u0001", "\u001b[31m", "\u000c", "\u0085", "\u2028", "\u2029", "\ufffe", "\u007f"]
NASTY_STRINGS = [
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "..",
    "../..",
    "%2F",
    "%00",
    "?user_id=x",
    "#",
    "\n",
    "\r\n",
    "\u202e",
    "\ufeff",
    "\u0430",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "'; DROP TABLE compiled_books; --",
    '{"$gt": ""}',
    "$where",
    "a.b",
    "x" * 300,
    "x" * 70_000,
    *CONTROLS,
]
PITCH_FIELDS = ("title", "logline", "genre", "synopsis", "audience", "author_name", "author_bio")
NASTY_NUMBERS = [0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308]
NASTY_KEYS = ["", "$set", "$where", "a.b", "a\u0000b", "__proto__", "_id", "user_id", "x" * 500]


def pitch_notes(rng: random.Random) -> dict[str, Any]:
    """Pitch notes with a control character in every text field."""
    notes: dict[str, Any] = {f: f"The {f} {rng.choice(CONTROLS)} of a pitch worth reading." for f in PITCH_FIELDS}
    return {
        **notes,
        "characters": [{"name": f"N{rng.choice(CONTROLS)}", "description": rng.choice(CONTROLS)}],
        "comparables": [rng.choice(CONTROLS) + "x"],
    }


class Fuzzer:
    def __init__(self, rng: random.Random, blob_ids: list[str], book_ids: list[str]) -> None:
        self.rng = rng
        self.blob_ids = blob_ids
        self.book_ids = book_ids

    def value(self, depth: int = 0) -> Any:
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice(NASTY_STRINGS)
        if r < 0.55:
            return self.rng.choice(NASTY_NUMBERS)
        if r < 0.62:
            return self.rng.choice([None, True, False])
        if r < 0.8 and depth < 6:
            return {self.key(): self.value(depth + 1) for _ in range(self.rng.randint(0, 3))}
        if depth < 6:
            return [self.value(depth + 1) for _ in range(self.rng.randint(0, 3))]
        return "leaf"

    def key(self) -> str:
        return (
            self.rng.choice(NASTY_KEYS)
            if self.rng.random() < 0.4
            else self.rng.choice(["content", "metadata", "book_id", "chapter", "title", "style", "k"])
        )

    def mutate(self, body: Any) -> Any:
        """A valid body with one place replaced, removed or nested too deep."""
        body = copy.deepcopy(body)
        paths: list[list[Any]] = []

        def walk(node: Any, path: list[Any]) -> None:
            paths.append(path)
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, [*path, k])

        walk(body, [])
        path = self.rng.choice(paths)
        if not path:
            return self.value()
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        choice = self.rng.random()
        if choice < 0.6:
            parent[path[-1]] = self.value()
        elif choice < 0.75:
            del parent[path[-1]]
        elif choice < 0.9:
            deep: Any = "bottom"
            for _ in range(self.rng.choice([30, 31, 32, 33, 40, 200])):
                deep = [deep]
            parent[path[-1]] = deep
        else:
            parent[self.rng.choice(NASTY_KEYS)] = self.value()
        return body

    def valid_body(self, route: str) -> Any:
        if route == "book":
            return {"id": f"fz-{self.rng.randint(0, 50)}", "title": "Fuzzed", "description": "d"}
        if route == "compile":
            return {"prefer": "draft"}
        if route == "patch":
            fields = ("subtitle", "author", "dedication", "front_matter", "back_matter", "contact")
            return {"language": "en-GB", **{f: f"{f.title()} {self.rng.choice(CONTROLS)} ends" for f in fields}}
        if route == "update":
            return {
                "data": {
                    "content": "A replacement draft of some length.",
                    "metadata": {"book_id": "fz-1", "chapter": self.rng.randint(1, 40)},
                },
                "version": 1,
            }
        if self.rng.random() < 0.2:
            return {"schema_id": "pitch-input-v1", "data": pitch_notes(self.rng)}
        return draft(
            f"fz-{self.rng.randint(0, 5)}",
            self.rng.randint(1, 2000),
            f"A draft {self.rng.choice(CONTROLS)} of some length.",
        )

    def raw(self, body: Any) -> tuple[bytes, dict[str, str]]:
        """The body as bytes, sometimes mangled, with the headers to send it."""
        text = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        r = self.rng.random()
        if r < 0.05:
            text = text[: self.rng.randint(0, len(text))]
        elif r < 0.09:
            text = text.replace(b'"', b"\xff", 1)
        elif r < 0.12:
            headers["Content-Encoding"] = "gzip"
            text = text if self.rng.random() < 0.5 else gzip.compress(text)
        elif r < 0.14:
            headers["Content-Encoding"] = "deflate"
            text = zlib.compress(text)[:-3]
        elif r < 0.17:
            headers["Content-Type"] = self.rng.choice(
                ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml"]
            )
        elif r < 0.19:
            text = b"x" * (1024 * 1024 + 10)
        elif r < 0.21:
            text = b"[" * 5000 + b"]" * 5000
        return text, headers

    def segment(self) -> str:
        r = self.rng.random()
        if r < 0.5 and self.blob_ids:
            return self.rng.choice(self.blob_ids)
        tricks = ["..%2F..", "%2E%2E", "x%3Fuser_id%3Dz", "x%23", "x%00", "%252F", "a" * 200, "%D0%B0", ".", "9" * 50]
        return self.rng.choice(tricks)

    def request(self, uid: str) -> tuple[str, str, bytes | None, dict[str, str]]:
        route = self.rng.choice(["blob", "blob", "blob", "book", "update", "delete", "compile", "patch"])
        body = self.valid_body(route)
        if self.rng.random() < 0.9:
            body = self.mutate(body)
        data, headers = self.raw(body)
        book = self.rng.choice(self.book_ids) if self.rng.random() < 0.7 else self.segment()
        query = self.rng.choice(["", "", "", "?user_id=z", "?a=1&a=2", "?version=99999999999999999999"])
        if route == "book":
            return "POST", f"/api/v1/users/{uid}/books{query}", data, headers
        if route == "compile":
            return "POST", f"/api/v1/users/{uid}/books/{book}/compile{query}", data, headers
        if route == "patch":
            return "PATCH", f"/api/v1/users/{uid}/books/{book}{query}", data, headers
        if route == "update":
            return "PUT", f"/api/v1/blobs/{self.segment()}{query}", data, headers
        if route == "delete":
            return "DELETE", f"/api/v1/blobs/{self.segment()}{query}", None, {}
        return "POST", f"/api/v1/blobs{query}", data, headers

    def socket_message(self) -> str:
        r = self.rng.random()
        if r < 0.1:
            return "[" * self.rng.choice([33, 1000, 100_000]) + "]" * 3
        if r < 0.15:
            return self.rng.choice(["", "{", "null", "[]", '"x"', "\u0000", '{"action": 5}'])
        body = self.mutate(self.valid_body("blob"))
        action = {"action": "create_blob", "request_id": str(self.rng.randint(0, 10**6)), "data": body}
        if self.rng.random() < 0.3:
            action = self.mutate(action)
        return json.dumps(action)


async def export_everything(
    session: aiohttp.ClientSession, stack: Stack, token: str, user_id: str, failures: list[str]
) -> int:
    """Compile the fuzzed book (its metadata and drafts full of control characters) and export it, and
    every pitch the fuzz made, in every format: text that was accepted renders."""
    auth = {"Authorization": f"Bearer {token}"}
    base = f"{stack.gateway}/api/v1/users/{user_id}"
    async with session.post(f"{base}/books/fz-1/compile", json={"prefer": "draft"}, headers=auth) as response:
        assert response.status == 202, await response.text()

    async def compiled() -> Any:
        async with session.get(f"{base}/books", headers=auth) as response:
            return {b["book_id"]: b for b in (await response.json())["books"]}["fz-1"]["compiled_version"]

    await eventually(compiled, lambda v: v is not None, timeout=60, what="the fuzzed book compiled")
    async with session.get(f"{base}/blobs", params={"type": "pitch-input", "limit": "500"}, headers=auth) as response:
        # The seeded notes (the oldest) and a few the fuzz made: every render is a process of its own.
        pitches = [b["id"] for b in (await response.json())["blobs"]][:PITCHES_EXPORTED]

    async def built() -> list[Any]:
        found = []
        for notes_id in pitches:
            async with session.get(f"{stack.gateway}/api/v1/blobs/{notes_id}", headers=auth) as response:
                found.append((await response.json()).get("pitch"))
        return found

    await eventually(
        built, lambda found: all(p is not None for p in found), timeout=60, what="every fuzzed pitch built"
    )
    exports = [(f"{base}/books/fz-1/export", fmt) for fmt in BOOK_EXPORT_FORMATS]
    exports += [
        (f"{stack.gateway}/api/v1/blobs/{notes_id}/export", fmt) for notes_id in pitches for fmt in PITCH_EXPORT_FORMATS
    ]
    for url, fmt in exports:
        async with session.get(url, params={"format": fmt}, headers=auth) as response:
            if response.status != 200:
                failures.append(f"export {url[-60:]} {fmt} -> {response.status} {(await response.read())[:300]!r}")
    return len(exports)


async def test_thousands_of_bad_requests_get_4xx_and_nothing_restarts(
    stack: Stack, api: aiohttp.ClientSession, user_id: str
) -> None:
    pids_before = sorted(stack.pids())
    blob_ids = []
    for chapter, control in ((1, "\u000b"), (2, "\u0007\u0001")):
        async with api.post(
            "/api/v1/blobs", json=draft("fz-1", chapter, f"A chapter {control} with a pasted control.")
        ) as response:
            assert response.status == 201
            blob_ids.append((await response.json())["id"])
    fuzzer = Fuzzer(random.Random(SEED), blob_ids, ["fz-1", "fz-2"])
    async with api.patch(f"/api/v1/users/{user_id}/books/fz-1", json=fuzzer.valid_body("patch")) as response:
        assert response.status == 200, await response.text()
    async with api.post(
        "/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": pitch_notes(fuzzer.rng)}
    ) as response:
        assert response.status == 201, await response.text()
    token = token_for(stack, user_id)
    requests = [fuzzer.request(user_id) for _ in range(HTTP_REQUESTS)]
    statuses: dict[int, int] = {}
    failures: list[str] = []
    queue: asyncio.Queue[tuple[str, str, bytes | None, dict[str, str]]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            method, path, data, headers = queue.get_nowait()
            async with session.request(
                method,
                URL(stack.gateway + path, encoded=True),
                data=None if data is None else io.BytesIO(data),
                headers={"Authorization": f"Bearer {token}", **headers},
                compress=None,
            ) as response:
                body = await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                # aiohttp's HTTP parser answers a message it cannot parse at all (say, a deflate
                # stream cut short) with a plain 400 before any route sees it; all else is a problem.
                plain_parse_error = response.status == 400 and response.content_type == "text/plain"
                if response.status >= 500 or (
                    response.status >= 400 and b'"type"' not in body and not plain_parse_error
                ):
                    failures.append(f"{method} {path[:120]} {headers} -> {response.status} {body[:300]!r}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        ws = await session.ws_connect(stack.gateway + "/ws", params={"token": token}, max_msg_size=0)
        answered = 0
        for _ in range(SOCKET_MESSAGES):
            await ws.send_str(fuzzer.socket_message())
            while True:
                message = await asyncio.wait_for(ws.receive(), 15)
                assert message.type == aiohttp.WSMsgType.TEXT, f"the socket ended: {message}"
                answer = json.loads(message.data)
                if answer["type"] in ("error", "blob.create.result"):
                    break
            answered += 1
            status = answer.get("status", 0)
            if status >= 500:
                failures.append(f"socket -> {answer}")
        await ws.close()

        exported = await export_everything(session, stack, token, user_id, failures)

    print(
        f"fuzz: {HTTP_REQUESTS} requests by status {dict(sorted(statuses.items()))}, "
        f"{answered} socket messages answered"
    )
    print(f"fuzz: {exported} exports of what the fuzz left (books and pitches), by format")
    assert not failures, "\n".join(failures[:20])
    assert sum(statuses.values()) == HTTP_REQUESTS and answered == SOCKET_MESSAGES
    assert sum(n for s, n in statuses.items() if 400 <= s < 500) > HTTP_REQUESTS // 2, statuses
    assert sorted(stack.pids()) == pids_before, "a service restarted"
    for log in (stack.data_dir / "logs").glob("*.log"):
        text = log.read_text(errors="replace")
        for marker in ("unhandled error", "Unhandled exception"):
            at = text.find(marker)
            assert at < 0, f"{log.name} logged an unhandled error:\n{text[max(0, at - 500) : at + 4000]}"
