"""`create_app(settings)`: text expansion as a processor of the federation."""

from __future__ import annotations

from aiohttp import web

from processors.app import deriving, processor_app

from .expander import Expander, OfflineExpander, OpenAIExpander
from .processor import TextExpansion
from .settings import Settings
from .store import ExpandedTextStore


def make_expander(settings: Settings) -> Expander:
    """The `openai` client when a key is configured, else the offline expander."""
    client = settings.llm.client()
    return OfflineExpander() if client is None else OpenAIExpander(client, settings.llm.model)


def create_app(settings: Settings) -> web.Application:
    store = ExpandedTextStore(settings.mongo_url, settings.database)
    processor = TextExpansion(store, make_expander(settings))
    return processor_app(processor, settings.runtime, deriving(processor))
