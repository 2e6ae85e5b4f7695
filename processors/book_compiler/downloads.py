"""Exports served: rendered once per compiled version and format, cached in the store, streamed."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid

import asyncpg
from aiohttp import web
from cachetools import LRUCache

from processors.rendering.sandbox import Sandbox
from processors.runtime.errors import DerivedNotFound
from servicekit.errors import UnknownFormat
from servicekit.params import int_param, user_param

from .exports import ALIASES, FORMATS, JOB, job_of
from .store import CompiledBookStore

CHUNK = 256 * 1024  # a few large writes: a 2 MiB PDF in eight


def export_format(value: str | None) -> str:
    """The format a query asks for (`epub`, `docx`, `pdf`, `md`, `txt`; `md` by default)."""
    fmt = ALIASES.get(value or "md", value or "md")
    if fmt not in FORMATS:
        raise UnknownFormat(f"format must be one of {', '.join(FORMATS)}")
    return fmt


class Exporter:
    """Renders each (version, format) once, in the sandbox, even when asked for it many times at once;
    keeps the latest ones asked for in memory too (`memory_bytes` of them), so a hot file skips the database."""

    def __init__(self, store: CompiledBookStore, sandbox: Sandbox, *, memory_bytes: int = 64 * 1024 * 1024) -> None:
        self.store = store
        self.sandbox = sandbox
        self._rendering: dict[tuple[uuid.UUID, str], asyncio.Task[tuple[str, bytes]]] = {}
        self._memory: LRUCache[tuple[uuid.UUID, str], tuple[str, bytes]] = LRUCache(
            memory_bytes, getsizeof=lambda v: len(v[1]) + 200
        )

    async def _render(self, user_id: str, book_id: str, book: asyncpg.Record, fmt: str) -> tuple[str, bytes]:
        manuscript = await self.store.manuscript(user_id, book_id, book)
        started = time.perf_counter()
        content = await self.sandbox.render(JOB, job_of(fmt, manuscript))
        etag = f'"{fmt}-v{manuscript.version}-{hashlib.sha256(content).hexdigest()[:24]}"'
        await self.store.save_export(
            uuid.UUID(manuscript.compiled_id), fmt, etag, content, (time.perf_counter() - started) * 1000
        )
        return etag, content

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """`?format=epub|docx|pdf|md|txt&version=N`: a compiled version (the newest by default) as a file."""
        fmt = export_format(request.query.get("format"))
        version = int_param(request, "version", minimum=1, maximum=2**31 - 1)
        user_id, book_id = user_param(request), request.match_info["book_id"]
        book = await self.store.compiled(user_id, book_id, version)
        if book is None:
            raise DerivedNotFound(f"book {book_id} has no such compiled version")
        content_type, extension, _ = FORMATS[fmt]
        headers = {
            "X-Compiled-Version": str(book["version"]),
            "Content-Disposition": f'attachment; filename="{book_id}-v{book["version"]}.{extension}"',
            "Cache-Control": "private, max-age=0, must-revalidate",
        }
        wanted = request.headers.get("If-None-Match")
        key = (book["id"], fmt)
        held = self._memory.get(key)
        cached = (
            (held[0], None) if held is not None else await self.store.cached_export(book["id"], fmt, with_content=False)
        )
        if cached is not None and _matches(wanted, cached[0]):
            return web.Response(status=304, headers={**headers, "ETag": cached[0]})
        found = held or (
            await self.store.cached_export(book["id"], fmt, with_content=True) if cached is not None else None
        )
        if found is not None and found[1] is not None:
            etag, content = found[0], found[1]
        else:
            task = self._rendering.get(key)
            if task is None:
                task = self._rendering[key] = asyncio.create_task(self._render(user_id, book_id, book, fmt))
                task.add_done_callback(lambda _: self._rendering.pop(key, None))
            etag, content = await asyncio.shield(task)
        if len(content) <= self._memory.maxsize // 4:
            self._memory[key] = (etag, content)
        if _matches(wanted, etag):  # `*`, asked before the file was first made: it exists now
            return web.Response(status=304, headers={**headers, "ETag": etag})
        response = web.StreamResponse(headers={**headers, "ETag": etag, "Content-Type": content_type})
        response.content_length = len(content)
        await response.prepare(request)
        for start in range(0, len(content), CHUNK):
            await response.write(content[start : start + CHUNK])
        await response.write_eof()
        return response


def _matches(header: str | None, etag: str) -> bool:
    """Does an `If-None-Match` header name `etag` (weak tags compare as strong here), or `*`?"""
    if header is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags
