"""Summarisers: offline (the first sentence of the chapter's strongest paragraphs) or a model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import openai

from processors.llm import chat
from processors.runtime.errors import ProviderError

SENTENCE = re.compile(r"[^.!?]+[.!?]+[\"')\]]*|[^.!?]+$")
WORD = re.compile(r"[\w'’-]+")
MAX_SENTENCES = 3
MAX_SUMMARY = 600
MAX_TOKENS = 160  # a summary of three sentences; the bound keeps a runaway answer from being paid for
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
        reply = await chat(
            self._client,
            self._model,
            system=SYSTEM_PROMPT,
            user=text,
            refused="the chapter",
            temperature=0.2,
            max_tokens=MAX_TOKENS,
        )
        if not reply.text:
            raise ProviderError("the model returned an empty summary")
        return Summary(
            text=reply.text[:2000], key_sentences=key_sentences(text), model_used=reply.model, tokens_used=reply.tokens
        )

    async def close(self) -> None:
        await self._client.close()
