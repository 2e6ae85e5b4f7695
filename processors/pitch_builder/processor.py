"""The pitch builder: pitch notes (`pitch-input-v1`) into a structured pitch (`pitch-v1`)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from processors.rendering.sandbox import Sandbox
from processors.runtime.base import Derived, ProcessorInfo, Source
from processors.runtime.errors import DerivedNotFound
from servicekit.errors import UnknownFormat
from servicekit.params import user_param

from .builder import PitchBuilder, one_pager
from .exports import FORMATS, JOB, job_of
from .store import PitchStore

INFO = ProcessorInfo(
    id="pitch-builder",
    name="Pitch builder",
    description="Builds a structured pitch and a one-page Markdown rendering from section-based pitch notes.",
    input_schema_ids=("pitch-input-v1",),
    output_schema_id="pitch-v1",
    storage_type="postgresql",
    database_name="pitch_builder",
    timeout_seconds=120.0,
    keeps_history=True,
    schema_package=__package__ or "",
)


class PitchBuilderProcessor:
    info = INFO

    def __init__(self, store: PitchStore, builder: PitchBuilder, sandbox: Sandbox) -> None:
        self.store = store
        self.builder = builder
        self.sandbox = sandbox

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.sandbox.close()
        await self.builder.close()
        await self.store.close()

    async def transform(self, source: Source) -> Derived:
        notes = source.data
        built = await self.builder.build(notes)
        manuscript = await self._manuscript(source)
        page = one_pager(notes, built.sections, manuscript["words"] if manuscript else None)
        data = {
            "title": notes["title"],
            "logline": str(notes["logline"]).strip(),
            "sections": built.sections,
            "one_pager": page,
            "word_count": len(page.split()),
            **{k: notes[k] for k in ("genre", "tone", "comparables", "author_name", "author_bio") if notes.get(k)},
            **({"manuscript": manuscript} if manuscript else {}),
        }
        return Derived(
            data=data,
            title=str(notes["title"]),
            preview=str(notes["logline"])[:200],
            model_used=built.model_used,
            tokens_used=built.tokens_used,
        )

    async def _manuscript(self, source: Source) -> dict[str, Any] | None:
        """The length the pitch states: the linked book's newest compile, else the notes' own count."""
        book_id = source.data.get("book_id")
        if isinstance(book_id, str) and book_id:
            newest = await self.store.newest_compile(source.user_id, book_id)
            if newest is not None:
                return {"book_id": book_id, "version": newest[0], "words": newest[1]}
        words = source.data.get("word_count")
        return {"words": words} if isinstance(words, int) else None

    def extra_routes(self) -> list[web.RouteDef]:
        return [web.get("/blobs/{blob_id}/export", self.export)]

    async def export(self, request: web.Request) -> web.Response:
        """`?format=pdf|docx|md`: the one-pager of a pitch (its own id)."""
        fmt = request.query.get("format", "md")
        if fmt not in FORMATS:
            raise UnknownFormat(f"format must be one of {', '.join(FORMATS)}")
        pitch = await self.store.get(user_param(request), request.match_info["blob_id"])
        if pitch is None:
            raise DerivedNotFound(f"no pitch {request.match_info['blob_id']}")
        content_type, extension, _ = FORMATS[fmt]
        content = await self.sandbox.render(JOB, job_of(fmt, pitch.data))
        name = re.sub(r"[^A-Za-z0-9]+", "-", str(pitch.data["title"])).strip("-").lower() or "pitch"
        headers = {
            "X-Pitch-Version": str(pitch.version),
            "Content-Disposition": f'attachment; filename="{name}-pitch.{extension}"',
        }
        return web.Response(body=content, headers={**headers, "Content-Type": content_type})
