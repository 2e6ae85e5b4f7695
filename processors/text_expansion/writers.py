"""Who writes a section's expansion: the `openai` client (streamed or whole), or the offline expander."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx2
import msgspec
import openai
from openai.types.chat import ChatCompletionMessageParam

from processors.llm import chat
from processors.runtime.errors import PermanentError, ProviderError

from . import offline
from .sections import Section
from .style import words

STYLE_GUIDES = {
    "formal": "Write in a formal, measured register: precise vocabulary, complete sentences, no contractions.",
    "casual": "Write in a casual, conversational register: plain words, contractions, a friendly rhythm.",
    "creative": "Write in a vivid literary register: sensory detail, imagery, varied sentence rhythm.",
}
SYSTEM_PROMPT = (
    "You expand a passage of a writer's chapter draft into fuller prose. Keep every event, name and fact of the "
    "passage, in order, and add description, interiority and transitions. Aim for three to five times "
    "the passage's length. Return only the expanded prose, in paragraphs, with no preamble. {guide}"
)
CONTEXT_PROMPT = (
    "For continuity only; do not expand or repeat them. The passage before this one ends: \u00ab{before}\u00bb "
    "The passage after it begins: \u00ab{after}\u00bb"
)
INSTRUCTION_PROMPT = "The writer asks this of the passage's expansion: \u00ab{instruction}\u00bb"
BIBLE_PROMPT = (
    "From the writer's story bible, for consistency only (do not quote it, add to it or mention it):\n{lines}"
)
_SENTENCE_END = re.compile(r"[.!?]+[\"')\u201d\u2019]*\s+")
Emit = Callable[[str], None]


class _Delta(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    delta: _Delta = msgspec.field(default_factory=_Delta)
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    total_tokens: int = 0


class _Chunk(msgspec.Struct):
    """What text expansion reads of one `chat.completion.chunk` of a stream (the rest is ignored)."""

    model: str | None = None
    choices: list[_Choice] = []
    usage: _Usage | None = None
    error: dict[str, Any] | None = None


_CHUNKS = msgspec.json.Decoder(_Chunk)


@dataclass(frozen=True)
class Written:
    """A section's expansion, which model wrote it, and what it cost."""

    text: str
    model_used: str
    tokens_used: int


class SectionFailed(Exception):
    """This try at a section failed in a way another try may not: a broken stream, a 429, a 5xx."""

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class SectionWriter(Protocol):
    model: str  # the model it asks for (a section's expansion is reused only by the same model)

    async def write(self, section: Section, style: str, emit: Emit) -> Written:
        """The section expanded; its text is also told through `emit` as it is written."""
        ...

    async def close(self) -> None: ...


class OfflineWriter:
    """No model: the offline expander, told sentence by sentence, optionally at a reading pace."""

    model = "offline"

    def __init__(self, *, words_per_second: float = 0.0) -> None:
        self.words_per_second = words_per_second

    async def write(self, section: Section, style: str, emit: Emit) -> Written:
        text = offline.expand(section.text, style)
        for piece in sentence_pieces(text):
            if self.words_per_second:
                await asyncio.sleep(len(words(piece)) / self.words_per_second)
            else:
                await asyncio.sleep(0)  # let the acks and the other sections run
            emit(piece)
        return Written(text=text, model_used="offline", tokens_used=0)

    async def close(self) -> None:
        return None


def sentence_pieces(text: str) -> list[str]:
    """`text` in sentences, each with the space after it: joined, they are `text` again."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


class OpenAIWriter:
    """Any OpenAI-compatible endpoint through the official client; streamed unless `streaming` is off."""

    def __init__(self, client: openai.AsyncOpenAI, model: str, *, streaming: bool = True) -> None:
        self._client = client
        self._model = self.model = model
        self.streaming = streaming

    def messages(self, section: Section, style: str) -> list[ChatCompletionMessageParam]:
        guide = STYLE_GUIDES.get(style, STYLE_GUIDES["creative"])
        found: list[ChatCompletionMessageParam] = [{"role": "system", "content": SYSTEM_PROMPT.format(guide=guide)}]
        context = self.context(section)
        if context:
            found.append({"role": "system", "content": context})
        return [*found, {"role": "user", "content": section.text}]

    @staticmethod
    def context(section: Section) -> str | None:
        """The story-bible entries chosen for the section, and the ends of its neighbours."""
        parts = []
        if section.notes:
            parts.append(BIBLE_PROMPT.format(lines="\n".join(f"- {note}" for note in section.notes)))
        if section.before or section.after:
            parts.append(CONTEXT_PROMPT.format(before=section.before or "-", after=section.after or "-"))
        if section.instruction:
            parts.append(INSTRUCTION_PROMPT.format(instruction=section.instruction))
        return "\n\n".join(parts) or None

    async def write(self, section: Section, style: str, emit: Emit) -> Written:
        messages = self.messages(section, style)
        if not self.streaming:
            try:
                reply = await chat(
                    self._client,
                    self._model,
                    system=SYSTEM_PROMPT.format(guide=STYLE_GUIDES.get(style, STYLE_GUIDES["creative"])),
                    user=section.text,
                    refused="the draft",
                    context=self.context(section),
                    temperature=0.8,
                )
            except PermanentError:
                raise
            except ProviderError as exc:
                raise SectionFailed(str(exc)) from exc
            return Written(text=reply.text, model_used=reply.model, tokens_used=reply.tokens)
        parts: list[str] = []
        model, tokens, finished = self._model, 0, None
        try:
            # The client makes the request (its auth, retries, errors); the stream's Server-Sent
            # Events are read here with msgspec: building the client's typed model of each token
            # took most of text expansion's processor time (py-spy, `bench/day`).
            async with self._client.chat.completions.with_streaming_response.create(
                model=self._model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                temperature=0.8,
            ) as response:  # leaving it early (a cancellation) closes the connection: the provider stops
                async for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # a blank line between events, a comment, an event name
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = _CHUNKS.decode(data)
                    if chunk.error is not None:
                        raise SectionFailed(f"the provider reported an error mid-stream: {str(chunk.error)[:200]}")
                    model = chunk.model or model
                    if chunk.usage is not None:
                        tokens = chunk.usage.total_tokens
                    for choice in chunk.choices:
                        if choice.delta.content:
                            parts.append(choice.delta.content)
                            emit(choice.delta.content)
                        finished = choice.finish_reason or finished
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            raise PermanentError(f"the provider refused the draft: {exc}") from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc  # no use trying the section again now
        except openai.RateLimitError as exc:
            raise SectionFailed(f"rate limited: {exc}", retry_after=retry_after(exc.response)) from exc
        except (openai.OpenAIError, httpx2.HTTPError) as exc:  # a dropped connection mid-stream included
            raise SectionFailed(f"{type(exc).__name__}: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise SectionFailed(f"the provider's stream could not be read: {exc}") from exc
        if finished is None:
            raise SectionFailed("the stream ended before the model finished")
        return Written(text="".join(parts), model_used=model, tokens_used=tokens)

    async def close(self) -> None:
        await self._client.close()


def retry_after(response: Any) -> float | None:
    """Seconds that a 429's `Retry-After` asks for (a number or an HTTP date); None without one."""
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
