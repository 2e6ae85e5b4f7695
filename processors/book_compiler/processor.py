"""The book compiler: a book's chapters compiled into one versioned book, with exports."""

from __future__ import annotations

from aiohttp import web

from processors.rendering.sandbox import Sandbox
from processors.runtime.base import ProcessorInfo
from processors.runtime.errors import DerivedNotFound
from servicekit.params import user_param, version_param

from .diff import diff
from .downloads import Exporter
from .store import PROCESSOR_ID, SCHEMA_ID, CompiledBookStore

INFO = ProcessorInfo(
    id=PROCESSOR_ID,
    name="Book compiler",
    description=(
        "Compiles a book's chapters, in order, into a versioned book; exports EPUB, DOCX, PDF, Markdown and text."
    ),
    input_schema_ids=("text-input-v1", "expanded-text-v1"),
    output_schema_id=SCHEMA_ID,
    storage_type="postgresql",
    database_name="book_compiler",
    timeout_seconds=300.0,
    keeps_history=True,
    output_scope="book",
    schema_package=__package__ or "",
)


class BookCompiler:
    info = INFO

    def __init__(self, store: CompiledBookStore, sandbox: Sandbox) -> None:
        self.store = store
        self.exporter = Exporter(store, sandbox)

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.exporter.sandbox.close()
        await self.store.close()

    def extra_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/users/{uid}/books/{book_id}/versions", self.versions),
            web.get("/users/{uid}/books/{book_id}/export", self.exporter.handle),
            web.get("/users/{uid}/books/{book_id}/versions/{a}/diff/{b}", self.diff),
        ]

    async def versions(self, request: web.Request) -> web.Response:
        """Every compiled version of a book, oldest first."""
        found = await self.store.versions(user_param(request), request.match_info["book_id"])
        return web.json_response({"versions": [{**v, "created_at": v["created_at"].isoformat()} for v in found]})

    async def diff(self, request: web.Request) -> web.Response:
        """Which chapters changed from version `a` to `b`, and how many words came and went."""
        user_id, book_id = user_param(request), request.match_info["book_id"]
        numbers = [version_param(request, k) for k in ("a", "b")]
        texts = [await self.store.texts(user_id, book_id, n) for n in numbers]
        for number, found in zip(numbers, texts, strict=True):
            if found is None:
                raise DerivedNotFound(f"book {book_id} has no compiled version {number}")
        return web.json_response({"from": numbers[0], "to": numbers[1], **diff(texts[0] or {}, texts[1] or {})})
