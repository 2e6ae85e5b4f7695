"""Expanders: the official `openai` client against any OpenAI-compatible endpoint, or offline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import openai

from processors.errors import ProviderError
from processors.llm import chat

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
        guide = STYLE_GUIDES.get(style, STYLE_GUIDES["creative"])
        reply = await chat(self._client, self._model, system=SYSTEM_PROMPT.format(guide=guide), user=text, refused="the draft", temperature=0.8)
        if len(words(reply.text)) < len(words(text)):
            raise ProviderError("the model returned less text than the draft")
        return Expansion(text=reply.text, model_used=reply.model, tokens_used=reply.tokens)

    async def close(self) -> None:
        await self._client.close()
