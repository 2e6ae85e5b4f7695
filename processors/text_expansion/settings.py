"""Text expansion's configuration: the runtime's, its MongoDB, and the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.llm import LLMSettings
from processors.settings import ProcessorSettings, RuntimeSettings
from servicekit.settings import Env

PREFIX = "TEXT_EXPANSION"
DEFAULT_PORT = 8012
DEFAULT_MONGO_URL = "mongodb://127.0.0.1:27817/?directConnection=true"


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    llm: LLMSettings
    mongo_url: str = DEFAULT_MONGO_URL
    database: str = "studio_text_expansion"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        return cls(
            runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ),
            llm=LLMSettings.from_env(environ),
            mongo_url=env.url("STUDIO_TEXT_EXPANSION_MONGO_URL", DEFAULT_MONGO_URL, schemes=("mongodb", "mongodb+srv")),
            database=env.string("STUDIO_TEXT_EXPANSION_DATABASE", "studio_text_expansion"),
        )
