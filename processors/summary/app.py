"""`create_app(settings)`: the summary processor as a processor of the federation."""

from __future__ import annotations

from aiohttp import web

from processors.runtime.app import deriving, processor_app

from .processor import ChapterSummary
from .settings import Settings
from .store import SummaryStore
from .summarizer import OfflineSummariser, OpenAISummariser, Summariser


def make_summariser(settings: Settings) -> Summariser:
    """The `openai` client when a key is configured, else the offline summariser."""
    client = settings.llm.client()
    return OfflineSummariser() if client is None else OpenAISummariser(client, settings.llm.model)


def create_app(settings: Settings) -> web.Application:
    processor = ChapterSummary(
        SummaryStore(settings.pg_url), make_summariser(settings), words_per_minute=settings.words_per_minute
    )
    return processor_app(processor, settings.runtime, deriving(processor))
