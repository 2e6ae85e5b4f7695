"""The pitch builder's configuration: the runtime's, its PostgreSQL database, the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.llm import LLMSettings
from processors.sandbox import RenderLimits
from processors.settings import ProcessorSettings, RuntimeSettings, embedded_database_url
from servicekit.settings import Env

PREFIX = "PITCH_BUILDER"
DEFAULT_PORT = 8014


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    llm: LLMSettings
    pg_url: str
    render: RenderLimits = RenderLimits()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        return cls(
            runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ),
            llm=LLMSettings.from_env(environ),
            render=RenderLimits.from_env(environ),
            pg_url=embedded_database_url(env, "STUDIO_PITCH_BUILDER_PG_URL", "pitch-builder"),
        )
