"""`create_app(settings)`: the pitch builder as a processor of the federation."""

from __future__ import annotations

from aiohttp import web

from processors.rendering.sandbox import Sandbox
from processors.runtime.app import RuntimeContext, deriving, processor_app
from processors.runtime.base import Handler

from .builder import OfflinePitchBuilder, OpenAIPitchBuilder, PitchBuilder
from .handler import FollowsCompiles
from .processor import PitchBuilderProcessor
from .settings import Settings
from .store import PitchStore


def make_builder(settings: Settings) -> PitchBuilder:
    client = settings.llm.client()
    return OfflinePitchBuilder() if client is None else OpenAIPitchBuilder(client, settings.llm.model)


def create_app(settings: Settings) -> web.Application:
    processor = PitchBuilderProcessor(PitchStore(settings.pg_url), make_builder(settings), Sandbox(settings.render))
    derive = deriving(processor)

    def handler(context: RuntimeContext) -> Handler:
        return FollowsCompiles(derive(context), processor.store)

    return processor_app(processor, settings.runtime, handler)
