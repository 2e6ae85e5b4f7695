"""The pitch builder: pitch notes (`pitch-input-v1`) into a structured pitch (`pitch-v1`)."""

from __future__ import annotations

from aiohttp import web

from processors.base import Derived, ProcessorInfo, Source
from processors.errors import DerivedNotFound
from servicekit.params import user_param

from .builder import PitchBuilder, one_pager
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

    def __init__(self, store: PitchStore, builder: PitchBuilder) -> None:
        self.store = store
        self.builder = builder

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.builder.close()
        await self.store.close()

    async def transform(self, source: Source) -> Derived:
        notes = source.data
        built = await self.builder.build(notes)
        page = one_pager(notes, built.sections)
        data = {
            "title": notes["title"],
            "logline": str(notes["logline"]).strip(),
            "sections": built.sections,
            "one_pager": page,
            "word_count": len(page.split()),
        }
        return Derived(data=data, title=str(notes["title"]), preview=str(notes["logline"])[:200], model_used=built.model_used, tokens_used=built.tokens_used)

    def extra_routes(self) -> list[web.RouteDef]:
        return [web.get("/blobs/{blob_id}/export", self.export)]

    async def export(self, request: web.Request) -> web.Response:
        """The one-pager as Markdown."""
        pitch = await self.store.get(user_param(request), request.match_info["blob_id"])
        if pitch is None:
            raise DerivedNotFound(f"no pitch {request.match_info['blob_id']}")
        return web.Response(text=pitch.data["one_pager"], content_type="text/markdown", headers={"X-Pitch-Version": str(pitch.version)})
