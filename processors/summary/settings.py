"""The summary processor's configuration: the runtime's, its PostgreSQL database, the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.llm import LLMSettings
from processors.settings import ProcessorSettings, RuntimeSettings, embedded_database_url
from servicekit.settings import Env

PREFIX = "SUMMARY"
DEFAULT_PORT = 8015


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    llm: LLMSettings
    pg_url: str
    words_per_minute: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        return cls(
            runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ),
            llm=LLMSettings.from_env(environ),
            pg_url=embedded_database_url(env, "STUDIO_SUMMARY_PG_URL", "summary"),
            words_per_minute=env.integer("STUDIO_SUMMARY_WORDS_PER_MINUTE", 238, minimum=50, maximum=2000),
        )
