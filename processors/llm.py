"""The model provider every LLM-backed processor shares: any OpenAI-compatible endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import openai

from servicekit.settings import Env


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    """`STUDIO_OPENAI_*`; without an API key, processors use their offline builders."""

    base_url: str | None = None
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    timeout_seconds: float = 60.0
    max_retries: int = 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LLMSettings:
        env = Env(environ)
        base_url = env.string("STUDIO_OPENAI_BASE_URL", "")
        return cls(
            base_url=env.url("STUDIO_OPENAI_BASE_URL", base_url, schemes=("http", "https")) if base_url else None,
            api_key=env.string("STUDIO_OPENAI_API_KEY", "") or None,
            model=env.string("STUDIO_OPENAI_MODEL", "gpt-4o-mini"),
            timeout_seconds=env.number("STUDIO_OPENAI_TIMEOUT_SECONDS", 60.0, minimum=0.1),
            max_retries=env.integer("STUDIO_OPENAI_MAX_RETRIES", 2, minimum=0, maximum=10),
        )

    def client(self) -> openai.AsyncOpenAI | None:
        """The official client with timeouts and its own retries; None when no key is configured."""
        if not self.api_key:
            return None
        return openai.AsyncOpenAI(
            api_key=self.api_key, base_url=self.base_url, timeout=self.timeout_seconds, max_retries=self.max_retries
        )
