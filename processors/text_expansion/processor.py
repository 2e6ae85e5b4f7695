"""Text expansion: a draft (`text-input-v1`) into fuller prose (`expanded-text-v1`)."""

from __future__ import annotations

from aiohttp import web

from dataclasses import replace

from processors.base import Derived, ProcessorInfo, Source
from processors.progress import Progress

from .expander import SectionedExpander
from .store import ExpandedTextStore
from .style import analyse, words

INFO = ProcessorInfo(
    id="text-expansion",
    name="Text expansion",
    description="Expands chapter drafts 3-5x in the draft's style, with a style analysis of the result.",
    input_schema_ids=("text-input-v1",),
    output_schema_id="expanded-text-v1",
    storage_type="mongodb",
    database_name="studio_text_expansion",
    timeout_seconds=120.0,
    schema_package=__package__ or "",
    streams=True,
)
PREVIEW_CHARS = 200


def sections_of(text: str) -> list[dict[str, object]]:
    """The expansion's paragraphs, numbered, with their word counts."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return [{"index": i, "text": p, "word_count": len(words(p))} for i, p in enumerate(paragraphs, start=1)]


class TextExpansion:
    def __init__(self, store: ExpandedTextStore, expander: SectionedExpander, *, streaming: bool = True) -> None:
        self.store = store
        self.expander = expander
        self.info = INFO if streaming else replace(INFO, streams=False)

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.expander.close()
        await self.store.close()

    async def transform(self, source: Source, progress: Progress | None = None) -> Derived:
        content = str(source.data["content"])
        metadata = source.data.get("metadata") or {}
        style = metadata.get("style") if isinstance(metadata, dict) else None
        expansion = await self.expander.expand(content, style or "creative", progress)
        analysis = analyse(expansion.text)
        ratio = len(words(expansion.text)) / max(1, len(words(content)))
        title = metadata.get("title") if isinstance(metadata, dict) and metadata.get("title") else f"Expanded: {source.title or source.id}"
        data = {
            "original": content,
            "expanded": expansion.text,
            "expansion_ratio": round(max(ratio, 1.0), 3),
            "metrics": {
                "readability_score": analysis.readability_score,
                "complexity": analysis.complexity,
                "tone": analysis.tone,
            },
            "style_analysis": analysis.as_dict(),
            "sections": sections_of(expansion.text),
            "style": style or "creative",
        }
        return Derived(
            data=data,
            title=str(title),
            preview=expansion.text[:PREVIEW_CHARS],
            model_used=expansion.model_used,
            tokens_used=expansion.tokens_used,
        )

    def extra_routes(self) -> list[web.RouteDef]:
        return []
