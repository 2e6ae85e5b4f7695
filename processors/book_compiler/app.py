"""`create_app(settings)`: the book compiler as a processor of the federation."""

from __future__ import annotations

from aiohttp import web

from processors.pg import PgOutboxRelay
from processors.rendering.sandbox import Sandbox
from processors.runtime.app import RuntimeContext, processor_app
from processors.runtime.base import Handler

from .handler import CompileHandler
from .processor import BookCompiler
from .settings import Settings
from .sources import ExpansionSource
from .store import CompiledBookStore


def create_app(settings: Settings) -> web.Application:
    store = CompiledBookStore(settings.pg_url)
    processor = BookCompiler(store, Sandbox(settings.render))

    def handler(context: RuntimeContext) -> Handler:
        expansions = ExpansionSource(
            context.peers, processor_id=settings.expansion_processor, timeout=settings.source_timeout_seconds
        )
        relay = PgOutboxRelay(store.pool, context.js)
        return CompileHandler(store, context.index, expansions, relay, expansion_processor=settings.expansion_processor)

    return processor_app(processor, settings.runtime, handler)
