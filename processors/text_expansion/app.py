"""`create_app(settings)`: text expansion as a processor of the federation."""

from __future__ import annotations

from aiohttp import web

from processors.runtime.app import deriving, processor_app

from .expander import SectionedExpander
from .processor import TextExpansion
from .settings import Settings
from .store import ExpandedTextStore
from .writers import OfflineWriter, OpenAIWriter, SectionWriter


def make_writer(settings: Settings) -> SectionWriter:
    """The `openai` client when a key is configured, else the offline expander."""
    client = settings.llm.client()
    if client is None:
        return OfflineWriter(words_per_second=settings.offline_words_per_second)
    return OpenAIWriter(client, settings.llm.model, streaming=settings.streaming)


def create_app(settings: Settings) -> web.Application:
    store = ExpandedTextStore(settings.mongo_url, settings.database)
    expander = SectionedExpander(make_writer(settings), settings.limits)
    processor = TextExpansion(store, expander, streaming=settings.streaming, context_tokens=settings.context_tokens)
    return processor_app(processor, settings.runtime, deriving(processor))
