"""`create_app(settings)`: text expansion as a processor of the federation."""

from __future__ import annotations

import openai
from aiohttp import web

from processors.app import deriving, processor_app

from .expander import Expander, OfflineExpander, OpenAIExpander
from .processor import TextExpansion
from .settings import Settings
from .store import ExpandedTextStore


def make_expander(settings: Settings) -> Expander:
    """The `openai` client when a key is configured, else the offline expander."""
    if not settings.openai_api_key:
        return OfflineExpander()
    client = openai.AsyncOpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
    )
    return OpenAIExpander(client, settings.openai_model)


def create_app(settings: Settings) -> web.Application:
    store = ExpandedTextStore(settings.mongo_url, settings.database)
    processor = TextExpansion(store, make_expander(settings))
    return processor_app(processor, settings.runtime, deriving(processor))
