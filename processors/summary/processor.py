"""The summary processor: an expanded chapter (`expanded-text-v1`) into a summary and reading time."""

from __future__ import annotations

from aiohttp import web

from processors.runtime.base import Derived, ProcessorInfo, Source

from .store import PROCESSOR_ID, SCHEMA_ID, SummaryStore
from .summarizer import Summariser, words

INFO = ProcessorInfo(
    id=PROCESSOR_ID,
    name="Chapter summary",
    description="Summarises each expanded chapter and estimates its reading time.",
    input_schema_ids=("expanded-text-v1",),
    output_schema_id=SCHEMA_ID,
    storage_type="postgresql",
    database_name="summary",
    timeout_seconds=120.0,
    schema_package=__package__ or "",
)


class ChapterSummary:
    info = INFO

    def __init__(self, store: SummaryStore, summariser: Summariser, *, words_per_minute: int = 238) -> None:
        self.store = store
        self.summariser = summariser
        self.words_per_minute = words_per_minute

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.summariser.close()
        await self.store.close()

    async def transform(self, source: Source) -> Derived:
        text = str(source.data.get("expanded") or "")
        summary = await self.summariser.summarise(text)
        count = len(words(text))
        data = {
            "summary": summary.text,
            "key_sentences": summary.key_sentences,
            "word_count": count,
            "reading_time_minutes": round(count / self.words_per_minute, 1),
            "words_per_minute": self.words_per_minute,
        }
        return Derived(
            data=data,
            title=f"Summary: {source.title or source.id}",
            preview=summary.text[:200],
            model_used=summary.model_used,
            tokens_used=summary.tokens_used,
        )

    def extra_routes(self) -> list[web.RouteDef]:
        return []
