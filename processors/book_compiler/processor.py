"""The book compiler: a book's chapters compiled into one versioned book, with exports."""

from __future__ import annotations

from aiohttp import web

from processors.base import ProcessorInfo
from processors.errors import DerivedNotFound
from servicekit.errors import Unprocessable
from servicekit.params import int_param, user_param

from .compiler import markdown, plain_text
from .store import PROCESSOR_ID, SCHEMA_ID, CompiledBookStore

INFO = ProcessorInfo(
    id=PROCESSOR_ID,
    name="Book compiler",
    description="Compiles a book's chapters, in order, into a versioned book; exports Markdown and plain text.",
    input_schema_ids=("text-input-v1", "expanded-text-v1"),
    output_schema_id=SCHEMA_ID,
    storage_type="postgresql",
    database_name="book_compiler",
    timeout_seconds=300.0,
    keeps_history=True,
    output_scope="book",
    schema_package=__package__ or "",
)
FORMATS = {"markdown": ("text/markdown", markdown), "text": ("text/plain", plain_text)}


class BookCompiler:
    info = INFO

    def __init__(self, store: CompiledBookStore) -> None:
        self.store = store

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()

    def extra_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/users/{uid}/books/{book_id}/versions", self.versions),
            web.get("/users/{uid}/books/{book_id}/export", self.export),
        ]

    async def versions(self, request: web.Request) -> web.Response:
        """Every compiled version of a book, oldest first."""
        found = await self.store.versions(user_param(request), request.match_info["book_id"])
        return web.json_response({"versions": [{**v, "created_at": v["created_at"].isoformat()} for v in found]})

    async def export(self, request: web.Request) -> web.Response:
        """`?format=markdown|text&version=N`: a compiled version (the newest by default) as a document."""
        fmt = request.query.get("format", "markdown")
        if fmt not in FORMATS:
            raise Unprocessable("format must be markdown or text")
        version = int_param(request, "version", minimum=1, maximum=2**31 - 1)
        found = await self.store.chapters_of(user_param(request), request.match_info["book_id"], version)
        if found is None:
            raise DerivedNotFound(f"book {request.match_info['book_id']} has no such compiled version")
        title, version, chapters = found
        content_type, render = FORMATS[fmt]
        return web.Response(
            text=render(title, chapters), content_type=content_type, headers={"X-Compiled-Version": str(version)}
        )
