"""The pitch builder's configuration: the runtime's, its PostgreSQL database, the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.llm import LLMSettings
from processors.rendering.sandbox import RenderLimits
from processors.runtime.settings import ProcessorSettings, RuntimeSettings, pg_url
from servicekit.settings import load

PREFIX = "PITCH_BUILDER"
DEFAULT_PORT = 8014


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    llm: LLMSettings = LLMSettings()
    pg_url: str = pg_url("pitch-builder")
    render: RenderLimits = RenderLimits()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return load(cls, environ, runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ))
