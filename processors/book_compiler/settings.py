"""The book compiler's configuration: the runtime's, its PostgreSQL database, its sources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.rendering.sandbox import RenderLimits
from processors.runtime.settings import ProcessorSettings, RuntimeSettings, pg_url
from servicekit.settings import load, setting

PREFIX = "BOOK_COMPILER"
DEFAULT_PORT = 8013


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    pg_url: str = pg_url("book-compiler")
    render: RenderLimits = RenderLimits()
    expansion_processor: str = setting(
        "STUDIO_BOOK_COMPILER_EXPANSION_PROCESSOR", "text-expansion", "the processor whose expansions a book uses"
    )
    source_timeout_seconds: float = setting(
        "STUDIO_BOOK_COMPILER_SOURCE_TIMEOUT_SECONDS", 10.0, "a read of the expansions' deadline", minimum=0.1, unit="s"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return load(cls, environ, runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ))
