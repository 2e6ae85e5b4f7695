"""Text expansion: a draft (`text-input-v1`) into fuller prose (`expanded-text-v1`)."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from cachetools import LRUCache

from contracts.processors import DerivedBlob
from processors.runtime.base import Derived, ProcessorInfo, Source
from processors.runtime.progress import Progress

from .expander import Expansion, SectionedExpander
from .store import ExpandedTextStore
from .style import analyse, words
from .writers import Written

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


REMEMBERED = 20_000  # sections written lately, by user: a cancelled draft's finished sections are not paid for twice


def sections_of(expansion: Expansion) -> list[dict[str, object]]:
    """Each section of the expansion, in order: a stable id (the same text, style and model keep it
    from version to version), its text, the draft's paragraphs it was made from, the model that wrote it."""
    found: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for index, part in enumerate(expansion.parts, start=1):
        seen[part.key] = seen.get(part.key, 0) + 1
        section_id = part.key if seen[part.key] == 1 else f"{part.key}-{seen[part.key]}"
        text = part.written.text.strip()
        found.append(
            {
                "index": index,
                "id": section_id,
                "key": part.key,
                "text": text,
                "word_count": len(words(text)),
                "source": {"paragraphs": [part.section.paragraph, part.section.paragraph]},
                "model": part.written.model_used,
            }
        )
    return found


def reusable(previous: list[DerivedBlob], style: str) -> dict[str, Written]:
    """Sections of earlier expansions of the same draft, by key (written with the same style and model)."""
    found: dict[str, Written] = {}
    for blob in sorted(previous, key=lambda b: b.source_version or 0):
        if blob.data.get("style", "creative") != style:
            continue
        for section in blob.data.get("sections") or []:
            if (
                isinstance(section, dict)
                and isinstance(section.get("key"), str)
                and isinstance(section.get("text"), str)
            ):
                found[section["key"]] = Written(
                    text=section["text"], model_used=str(section.get("model") or ""), tokens_used=0
                )
    return found


class TextExpansion:
    def __init__(self, store: ExpandedTextStore, expander: SectionedExpander, *, streaming: bool = True) -> None:
        self.store = store
        self.expander = expander
        self.info = INFO if streaming else replace(INFO, streams=False)
        self._remembered: LRUCache[tuple[str, str], Written] = LRUCache(maxsize=REMEMBERED)

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.expander.close()
        await self.store.close()

    async def transform(self, source: Source, progress: Progress | None = None) -> Derived:
        content = str(source.data["content"])
        metadata = source.data.get("metadata") or {}
        style = metadata.get("style") if isinstance(metadata, dict) else None
        style = style or "creative"
        # What was written before for this draft is not written again: only the sections that
        # changed cost a model call (an autosave changes one paragraph, not the chapter).
        reuse = reusable(await self.store.for_parent(source.user_id, source.id), style)
        user = source.user_id
        expansion = await self.expander.expand(
            content,
            style,
            progress,
            reuse=lambda key: reuse.get(key) or self._remembered.get((user, key)),
            remember=lambda key, written: self._remembered.__setitem__((user, key), written),
        )
        analysis = analyse(expansion.text)
        ratio = len(words(expansion.text)) / max(1, len(words(content)))
        title = (
            metadata.get("title")
            if isinstance(metadata, dict) and metadata.get("title")
            else f"Expanded: {source.title or source.id}"
        )
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
            "sections": sections_of(expansion),
            "sections_reused": expansion.reused,
            "style": style,
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
