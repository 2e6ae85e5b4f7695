"""Text expansion's configuration: the runtime's, its MongoDB, and the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.settings import RuntimeSettings
from servicekit.settings import Env

PREFIX = "TEXT_EXPANSION"
DEFAULT_PORT = 8012
DEFAULT_MONGO_URL = "mongodb://127.0.0.1:27817/?directConnection=true"


@dataclass(frozen=True, kw_only=True)
class Settings:
    runtime: RuntimeSettings
    mongo_url: str = DEFAULT_MONGO_URL
    database: str = "studio_text_expansion"
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = 60.0
    openai_max_retries: int = 2

    @property
    def host(self) -> str:
        return self.runtime.host

    @property
    def port(self) -> int:
        return self.runtime.port

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        base_url = env.string("STUDIO_OPENAI_BASE_URL", "")
        return cls(
            runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ),
            mongo_url=env.url("STUDIO_TEXT_EXPANSION_MONGO_URL", DEFAULT_MONGO_URL, schemes=("mongodb", "mongodb+srv")),
            database=env.string("STUDIO_TEXT_EXPANSION_DATABASE", "studio_text_expansion"),
            openai_base_url=env.url("STUDIO_OPENAI_BASE_URL", base_url, schemes=("http", "https")) if base_url else None,
            openai_api_key=env.string("STUDIO_OPENAI_API_KEY", "") or None,
            openai_model=env.string("STUDIO_OPENAI_MODEL", "gpt-4o-mini"),
            openai_timeout_seconds=env.number("STUDIO_OPENAI_TIMEOUT_SECONDS", 60.0, minimum=0.1),
            openai_max_retries=env.integer("STUDIO_OPENAI_MAX_RETRIES", 2, minimum=0, maximum=10),
        )
