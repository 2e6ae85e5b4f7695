"""Expanders: the official `openai` client against any OpenAI-compatible endpoint, or offline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import openai

from processors.errors import PermanentError, ProviderError

from . import offline
from .style import words

STYLE_GUIDES = {
    "formal": "Write in a formal, measured register: precise vocabulary, complete sentences, no contractions.",
    "casual": "Write in a casual, conversational register: plain words, contractions, a friendly rhythm.",
    "creative": "Write in a vivid literary register: sensory detail, imagery, varied sentence rhythm.",
}
SYSTEM_PROMPT = (
    "You expand a writer's chapter draft into fuller prose. Keep every event, name and fact of the "
    "draft, in order, and add description, interiority and transitions. Aim for three to five times "
    "the draft's length. Return only the expanded prose, in paragraphs, with no preamble. {guide}"
)


@dataclass(frozen=True)
class Expansion:
    text: str
    model_used: str
    tokens_used: int


class Expander(Protocol):
    async def expand(self, text: str, style: str) -> Expansion: ...
    async def close(self) -> None: ...


class OfflineExpander:
    """No model: elaborates the draft itself (see `offline`)."""

    async def expand(self, text: str, style: str) -> Expansion:
        # CPU-bound for long drafts: keep the event loop free for acks and heartbeats.
        expanded = await asyncio.to_thread(offline.expand, text, style)
        return Expansion(text=expanded, model_used="offline", tokens_used=0)

    async def close(self) -> None:
        return None


class OpenAIExpander:
    """The `openai` client; its own retries with back-off first, then JetStream's redelivery."""

    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def expand(self, text: str, style: str) -> Expansion:
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT.format(guide=STYLE_GUIDES.get(style, STYLE_GUIDES["creative"]))},
                    {"role": "user", "content": text},
                ],
                temperature=0.8,
            )
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            raise PermanentError(f"the provider refused the draft: {exc}") from exc
        except openai.OpenAIError as exc:
            # Timeouts, connection errors, 5xx, 429, and a bad key alike: worth another delivery
            # (a key fixed by an operator makes the dead letters replayable).
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
        choice = response.choices[0] if response.choices else None
        expanded = (choice.message.content or "").strip() if choice else ""
        if len(words(expanded)) < len(words(text)):
            raise ProviderError("the model returned less text than the draft")
        tokens = response.usage.total_tokens if response.usage else 0
        return Expansion(text=expanded, model_used=response.model or self._model, tokens_used=tokens)

    async def close(self) -> None:
        await self._client.close()
