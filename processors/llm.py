"""The model provider every LLM-backed processor shares: any OpenAI-compatible endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai

from servicekit.settings import load, setting

from .runtime.errors import PermanentError, ProviderError


@dataclass(frozen=True)
class Reply:
    """What the model said, which model said it, and what it cost."""

    text: str
    model: str
    tokens: int


async def chat(
    client: openai.AsyncOpenAI,
    model: str,
    *,
    system: str,
    user: str,
    refused: str,
    context: str | None = None,
    **options: Any,
) -> Reply:
    """One chat completion, its failures sorted: a request the provider refuses can never succeed
    (PermanentError, naming `refused`); anything else (timeouts, 5xx, 429, a bad key) is worth another
    delivery (ProviderError), after the client's own retries. `context`: a second system message."""
    messages = [{"role": "system", "content": system}]
    if context:
        messages.append({"role": "system", "content": context})
    messages.append({"role": "user", "content": user})
    try:
        response = await client.chat.completions.create(model=model, messages=messages, **options)  # type: ignore[arg-type]
    except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
        raise PermanentError(f"the provider refused {refused}: {exc}") from exc
    except openai.OpenAIError as exc:
        raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content or "").strip() if choice else ""
    return Reply(text=text, model=response.model or model, tokens=response.usage.total_tokens if response.usage else 0)


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    """`STUDIO_OPENAI_*`; without an API key, processors use their offline builders."""

    base_url: str | None = setting(
        "STUDIO_OPENAI_BASE_URL",
        None,
        "an OpenAI-compatible API",
        schemes=("http", "https"),
        shown_default="the client's (api.openai.com)",
    )
    api_key: str | None = setting("STUDIO_OPENAI_API_KEY", None, "its key; without one, the offline builders write")
    model: str = setting("STUDIO_OPENAI_MODEL", "gpt-4o-mini", "the model asked")
    timeout_seconds: float = setting(
        "STUDIO_OPENAI_TIMEOUT_SECONDS", 60.0, "one call's deadline (the client never retries)", minimum=0.1, unit="s"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LLMSettings:
        return load(cls, environ)

    def client(self) -> openai.AsyncOpenAI | None:
        """The official client with timeouts and its own retries; None when no key is configured."""
        if not self.api_key:
            return None
        return openai.AsyncOpenAI(
            api_key=self.api_key, base_url=self.base_url, timeout=self.timeout_seconds, max_retries=0
        )
