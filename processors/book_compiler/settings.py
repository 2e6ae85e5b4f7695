"""The book compiler's configuration: the runtime's, its PostgreSQL database, its sources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.sandbox import RenderLimits
from processors.settings import ProcessorSettings, RuntimeSettings, embedded_database_url
from servicekit.settings import Env

PREFIX = "BOOK_COMPILER"
DEFAULT_PORT = 8013


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    pg_url: str
    render: RenderLimits = RenderLimits()
    expansion_processor: str = "text-expansion"
    source_timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        return cls(
            runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ),
            render=RenderLimits.from_env(environ),
            pg_url=embedded_database_url(env, "STUDIO_BOOK_COMPILER_PG_URL", "book-compiler"),
            expansion_processor=env.string("STUDIO_BOOK_COMPILER_EXPANSION_PROCESSOR", "text-expansion"),
            source_timeout_seconds=env.number("STUDIO_BOOK_COMPILER_SOURCE_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        )
