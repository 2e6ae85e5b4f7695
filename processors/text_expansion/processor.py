"""Text expansion: a draft (`text-input-v1`) into fuller prose (`expanded-text-v1`)."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from cachetools import LRUCache

from contracts.models import CODEX_SCHEMA
from contracts.paragraphs import paragraph_spans
from contracts.processors import DerivedBlob
from processors.runtime.base import Derived, InputRef, ProcessorInfo, Source
from processors.runtime.progress import Progress

from .context import Codex, Entry, entry_of
from .expander import Expansion, SectionedExpander
from .revise import Revisions
from .routes import section_routes
from .sections import split
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
    reads=(CODEX_SCHEMA,),
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
                "original": part.section.text,  # the draft text it was written from (keep replaces it)
                "status": "kept" if part.kept else "ok",
                "word_count": len(words(text)),
                "source": {"paragraphs": [part.section.paragraph, part.section.paragraph]},
                "model": part.written.model_used,
                "receipt": [
                    {
                        "entry_id": used.entry_id,
                        "entry_version": used.entry_version,
                        "name": used.name,
                        "why": used.why,
                        "tokens": used.tokens,
                    }
                    for used in part.receipt
                ],
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


def codex_of(source: Source) -> Codex:
    """The story-bible entries that apply to the source's book, as the rule reads them."""
    entries = [entry_of(r.id, r.version, r.data) for r in source.reads.get(CODEX_SCHEMA, ())]
    return Codex([e for e in entries if e is not None])


def kept_paragraphs(content: str, spans: list[dict[str, object]]) -> set[int]:
    """The paragraphs (numbered from 1) wholly inside the spans the model wrote and the writer kept."""
    found = set()
    for number, (start, end) in enumerate(paragraph_spans(content), start=1):
        covered = sum(
            max(0, min(end, int(s["end"])) - max(start, int(s["start"])))  # type: ignore[call-overload]
            for s in spans
            if isinstance(s, dict)
        )
        if covered >= end - start:
            found.add(number)
    return found


def paragraphs_of(text: str) -> list[tuple[int, str]]:
    return [(s.paragraph, s.text) for s in split(text, max_words=10**9)]


class TextExpansion:
    def __init__(
        self,
        store: ExpandedTextStore,
        expander: SectionedExpander,
        *,
        streaming: bool = True,
        context_tokens: int = 600,
    ) -> None:
        self.store = store
        self.expander = expander
        self.context_tokens = context_tokens
        self.revisions = Revisions(store, expander, context_tokens=context_tokens)
        self.info = INFO if streaming else replace(INFO, streams=False)
        self._remembered: LRUCache[tuple[str, str], Written] = LRUCache(maxsize=REMEMBERED)

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.revisions.close()
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
        codex = codex_of(source)
        kept = kept_paragraphs(content, source.data.get("provenance") or [])
        expansion = await self.expander.expand(
            content,
            style,
            progress,
            reuse=lambda key: reuse.get(key) or self._remembered.get((user, key)),
            remember=lambda key, written: self._remembered.__setitem__((user, key), written),
            choose=lambda near: codex.chosen(near, chapter=source.chapter, budget=self.context_tokens),
            as_is=lambda section: section.paragraph in kept,
        )
        used = {(u.entry_id, u.entry_version) for part in expansion.parts for u in part.receipt}
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
            inputs=tuple(InputRef(blob_id=i, version=v) for i, v in sorted(used)),
        )

    def would_use(self, read: Source, sources: list[Source]) -> list[str]:
        """The drafts among `sources` that a story-bible entry applies to and names (or all it applies
        to, if it is always included): their sections' receipts would now list it."""
        entry: Entry | None = entry_of(read.id, read.version, read.data)
        if entry is None:
            return []
        codex = Codex([entry])
        return [
            s.id
            for s in sources
            if codex.uses(paragraphs_of(str(s.data.get("content") or "")), entry, chapter=s.chapter)
        ]

    def extra_routes(self) -> list[web.RouteDef]:
        return section_routes(self.revisions)
