"""The summary processor's configuration: the runtime's, its PostgreSQL database, the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.llm import LLMSettings
from processors.runtime.settings import ProcessorSettings, RuntimeSettings, pg_url
from servicekit.settings import load, setting

PREFIX = "SUMMARY"
DEFAULT_PORT = 8015


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    llm: LLMSettings = LLMSettings()
    pg_url: str = pg_url("summary")
    words_per_minute: int = setting(
        "STUDIO_SUMMARY_WORDS_PER_MINUTE", 238, "the reading-time estimate's pace", minimum=50, maximum=2000
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return load(cls, environ, runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ))
