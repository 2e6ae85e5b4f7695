"""Summarisers: offline (the first sentence of the chapter's strongest paragraphs) or a model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import openai

from processors.errors import PermanentError, ProviderError

SENTENCE = re.compile(r"[^.!?]+[.!?]+[\"')\]]*|[^.!?]+$")
WORD = re.compile(r"[\w'’-]+")
MAX_SENTENCES = 3
MAX_SUMMARY = 600
SYSTEM_PROMPT = (
    "You summarise a chapter of a novel for its author in two or three plain sentences: who does what, "
    "and what changes. No preamble, no judgement."
)


@dataclass(frozen=True)
class Summary:
    text: str
    key_sentences: list[str]
    model_used: str
    tokens_used: int


def words(text: str) -> list[str]:
    return WORD.findall(text)


def key_sentences(text: str, limit: int = MAX_SENTENCES) -> list[str]:
    """The opening sentence of the longest paragraphs, kept in the chapter's order."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    ranked = sorted(range(len(paragraphs)), key=lambda i: -len(words(paragraphs[i])))[:limit]
    found = []
    for i in sorted(ranked):
        sentence = next((s.strip() for s in SENTENCE.findall(paragraphs[i]) if s.strip()), "")
        if sentence:
            found.append(sentence)
    return found


class Summariser(Protocol):
    async def summarise(self, text: str) -> Summary: ...
    async def close(self) -> None: ...


class OfflineSummariser:
    """No model: the chapter's key sentences, joined."""

    async def summarise(self, text: str) -> Summary:
        chosen = key_sentences(text)
        joined = " ".join(chosen)[:MAX_SUMMARY].strip() or text.strip()[:MAX_SUMMARY]
        return Summary(text=joined, key_sentences=chosen, model_used="offline", tokens_used=0)

    async def close(self) -> None:
        return None


class OpenAISummariser:
    """The `openai` client; its own retries first, then JetStream's redelivery."""

    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def summarise(self, text: str) -> Summary:
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}],
                temperature=0.2,
            )
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            raise PermanentError(f"the provider refused the chapter: {exc}") from exc
        except openai.OpenAIError as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
        choice = response.choices[0] if response.choices else None
        summary = (choice.message.content or "").strip()[:2000] if choice else ""
        if not summary:
            raise ProviderError("the model returned an empty summary")
        tokens = response.usage.total_tokens if response.usage else 0
        return Summary(text=summary, key_sentences=key_sentences(text), model_used=response.model or self._model, tokens_used=tokens)

    async def close(self) -> None:
        await self._client.close()
