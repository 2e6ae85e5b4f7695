"""Turning pitch notes into a structured pitch: offline, or through the `openai` client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import openai

from processors.llm import chat
from processors.rendering import prose
from processors.runtime.errors import ProviderError

SECTION_ORDER = (
    ("hook", "The hook"),
    ("synopsis", "Synopsis"),
    ("characters", "Characters"),
    ("audience", "Audience"),
    ("comparables", "Comparables"),
    ("positioning", "Why it works"),
)
MAX_TOKENS = 1500  # six short paragraphs; the bound keeps a runaway answer from being paid for
SYSTEM_PROMPT = (
    "You turn a writer's pitch notes into a one-page pitch for agents and editors. Answer with one "
    "JSON object with the string fields hook, synopsis, characters, audience, comparables and "
    "positioning, each a short paragraph in plain prose, faithful to the notes and inventing no plot."
)


@dataclass(frozen=True)
class BuiltPitch:
    sections: list[dict[str, str]]
    model_used: str
    tokens_used: int


class PitchBuilder(Protocol):
    async def build(self, notes: dict[str, Any]) -> BuiltPitch: ...
    async def close(self) -> None: ...


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def offline_sections(notes: dict[str, Any]) -> list[dict[str, str]]:
    """Sections written from the notes alone, in the order a one-pager reads. A section's body is
    in the writer's marks (`processors.rendering.prose`): the notes' prose (synopsis, audience, a character's
    description) keeps its marks; their names and one-line fields are escaped into it, so that
    `*` in a title is a star and a character's name is in bold because the builder says so."""
    notes = {k: v if k in PROSE_FIELDS else _escaped(v) for k, v in notes.items()}
    notes["characters"] = [
        {k: v if k == "description" else _escaped(v) for k, v in person.items()}
        for person in notes.get("characters") or []
    ]
    title, logline = str(notes["title"]), str(notes["logline"]).strip()
    genre, tone = notes.get("genre"), notes.get("tone")
    kind = kind_of(str(tone or ""), str(genre or ""))
    article = "An" if kind[:1].lower() in "aeiou" else "A"
    body: dict[str, str] = {"hook": f"{article} {kind}: {logline}"}
    body["synopsis"] = str(notes.get("synopsis") or logline).strip()
    characters = notes.get("characters") or []
    if characters:
        lines = []
        for person in characters:
            role = f" ({person['role']})" if person.get("role") else ""
            about = f": {person['description']}" if person.get("description") else ""
            lines.append(f"- **{person['name']}**{role}{about}")
        body["characters"] = "\n".join(lines)
    if notes.get("audience"):
        body["audience"] = str(notes["audience"]).strip()
    comparables = [str(c) for c in notes.get("comparables") or []]
    if comparables:
        body["comparables"] = f"{title} will sit beside {_join(comparables)} on a reader's shelf."
    lead = characters[0]["name"] if characters else "its protagonist"
    body["positioning"] = (
        f"{title} pairs a clear premise with {lead}'s personal stake in it, "
        f"which gives {'the ' + genre if genre else 'the story'} a hook that can be told in one breath."
    )
    return [{"key": key, "heading": heading, "body": body[key]} for key, heading in SECTION_ORDER if key in body]


PROSE_FIELDS = frozenset({"synopsis", "audience", "author_bio", "characters"})  # characters: see offline_sections


def _escaped(value: Any) -> Any:
    """The notes' text with the marks' characters escaped (lists and records followed)."""
    return prose.each_string(value, prose.escape_marks)


def section_text(body: str) -> str:
    """A section's body as the writer's text: each of its lines a paragraph."""
    return "\n\n".join(body.split("\n"))


def one_pager(notes: dict[str, Any], sections: list[dict[str, str]], words: int | None = None) -> str:
    """The pitch as one Markdown page: title, logline, genre and length, each section under its
    heading, and the author's bio. The notes' words are escaped: a Markdown reader shows them as typed."""
    md = prose.escape_markdown
    facts = [
        f"**{label}:** {md(prose.line(str(notes[key])))}"
        for key, label in (("genre", "Genre"), ("tone", "Tone"))
        if notes.get(key)
    ]
    if words is not None:
        facts.append(f"**Length:** {words:,} words")
    parts = [f"# {md(prose.line(str(notes['title'])))}", "", f"*{md(prose.line(str(notes['logline'])))}*", ""]
    if facts:
        parts += [" · ".join(facts), ""]
    for section in sections:
        parts += [f"## {md(prose.line(section['heading']))}", "", prose.markdown(section_text(section["body"])), ""]
    if notes.get("author_bio"):
        name = f" {md(prose.line(str(notes['author_name'])))}" if notes.get("author_name") else ""
        parts += [f"## About the author{':' if name else ''}{name}", "", prose.markdown(str(notes["author_bio"])), ""]
    return "\n".join(parts).rstrip() + "\n"


class OfflinePitchBuilder:
    async def build(self, notes: dict[str, Any]) -> BuiltPitch:
        return BuiltPitch(sections=offline_sections(notes), model_used="offline", tokens_used=0)

    async def close(self) -> None:
        return None


class OpenAIPitchBuilder:
    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def build(self, notes: dict[str, Any]) -> BuiltPitch:
        reply = await chat(
            self._client,
            self._model,
            system=SYSTEM_PROMPT,
            user=json.dumps(notes),
            refused="the notes",
            response_format={"type": "json_object"},
            temperature=0.7,
            max_tokens=MAX_TOKENS,
        )
        try:
            fields = json.loads(reply.text)
        except json.JSONDecodeError as exc:
            raise ProviderError(f"the model did not answer with JSON: {exc}") from exc
        if not isinstance(fields, dict):
            raise ProviderError("the model's answer is not a JSON object")
        sections = [
            {"key": key, "heading": heading, "body": str(fields[key]).strip()}
            for key, heading in SECTION_ORDER
            if isinstance(fields.get(key), str) and fields[key].strip()
        ]
        if not sections:
            raise ProviderError("the model's answer has none of the pitch's sections")
        return BuiltPitch(sections=sections, model_used=reply.model, tokens_used=reply.tokens)

    async def close(self) -> None:
        await self._client.close()


def kind_of(tone: str, genre: str) -> str:
    """`literary` and `mystery` make a "literary mystery"; `literary` and `literary mystery` too,
    not a "literary literary mystery": a tone word the genre already says is said once."""
    said = {w.casefold() for w in genre.split()}
    extra = " ".join(w for w in tone.split() if w.casefold() not in said)
    return " ".join(p for p in (extra, genre.strip()) if p) or "novel"
