"""A writer's text as every renderer reads it: cleaned of control characters, cut into paragraphs and
scene breaks, with the few marks a writer may use (emphasis, strong, a scene break) and nothing else.

The text is data. No renderer is handed the writer's text as markup: each one is given these blocks
and spans (pandoc a document tree, Typst JSON, python-docx runs) or, for the Markdown export, the
text with every other Markdown character escaped, so that a Markdown reader shows it as typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Control characters: a vertical tab, form feed, NEL or line separator is a line break to a writer
# (word processors paste them); a paragraph separator a paragraph break; a tab a space; every other
# C0/C1 control, and what XML 1.0 cannot hold (U+FFFE, U+FFFF), goes.
_CONTROLS: dict[int, str | None] = {c: None for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROLS.update({0x0A: "\n", 0x0D: "\n", 0x0B: "\n", 0x0C: "\n", 0x85: "\n", 0x2028: "\n", 0x09: " "})
_CONTROLS.update({0x2029: "\n\n", 0xFFFE: None, 0xFFFF: None})
_SURROGATES = re.compile("[\ud800-\udfff]")
_PARAGRAPHS = re.compile(r"\n[^\S\n]*\n\s*")
# A paragraph of its own made of `#`, `*` or `~` (up to five, spaces allowed) is a scene break.
_SCENE_BREAK = re.compile(r"^\s*(?:[#*~]\s*){1,5}$")
# `**strong**`, then `*emphasis*` or `_emphasis_`: a mark opens before a non-space and closes after
# one, and touches no letter or digit outside it (so `snake_case` and `2*3*4` stay as typed). A
# backslash before `*` or `_` makes it a plain character.
_STRONG = re.compile(r"(?<![\w\\*])\*\*(?=[^\s*])(.+?)(?<=[^\s\\*])\*\*(?![\w*])", re.S)
_EMPHASIS = re.compile(r"(?<![\w\\*_])([*_])(?=[^\s*_])(.+?)(?<=[^\s\\*_])\1(?![\w*_])", re.S)
_ESCAPED = re.compile(r"\\([*_])")
_MARKS = re.compile(r"([*_])")


@dataclass(frozen=True)
class Span:
    """A run of text with one look; a line break inside a paragraph is a `\\n` in `text`."""

    text: str
    emphasis: bool = False
    strong: bool = False


@dataclass(frozen=True)
class Paragraph:
    spans: tuple[Span, ...]
    raw: str  # as the writer typed it (cleaned), marks and all

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.spans)


@dataclass(frozen=True)
class SceneBreak:
    pass


Block = Paragraph | SceneBreak


def clean(text: str) -> str:
    """`text` with its control characters settled as above."""
    return _SURROGATES.sub("\ufffd", text.replace("\r\n", "\n").translate(_CONTROLS))


def line(text: str) -> str:
    """A one-line field (a title, a name): cleaned, every line break a space, spaces joined."""
    return " ".join(clean(text).split())


def each_string(value: Any, change: Callable[[str], str]) -> Any:
    """A JSON-like value with `change` made to every string in it (keys stay as they are)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [each_string(v, change) for v in value]
    if isinstance(value, dict):
        return {k: each_string(v, change) for k, v in value.items()}
    return value


def clean_all(value: Any) -> Any:
    """Every string in a JSON-like value cleaned: what a renderer is handed can always be rendered."""
    return each_string(value, clean)


def escape_marks(text: str) -> str:
    """`text` with `*` and `_` escaped: put into the writer's marks, it reads as typed."""
    return _MARKS.sub(r"\\\1", text)


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def _emphasised(text: str, strong: bool) -> list[Span]:
    spans: list[Span] = []
    at = 0
    for match in _EMPHASIS.finditer(text):
        if match.start() > at:
            spans.append(Span(_unescape(text[at : match.start()]), strong=strong))
        spans.append(Span(_unescape(match.group(2)), emphasis=True, strong=strong))
        at = match.end()
    if at < len(text):
        spans.append(Span(_unescape(text[at:]), strong=strong))
    return spans


def spans(text: str) -> tuple[Span, ...]:
    """The marks of one paragraph: strong and emphasised runs, the rest plain."""
    found: list[Span] = []
    at = 0
    for match in _STRONG.finditer(text):
        found += _emphasised(text[at : match.start()], False)
        found += _emphasised(match.group(1), True)
        at = match.end()
    found += _emphasised(text[at:], False)
    return tuple(s for s in found if s.text)


def blocks(text: str) -> list[Block]:
    """Paragraphs (separated by a blank line; a single line break is kept) and scene breaks."""
    found: list[Block] = []
    for part in _PARAGRAPHS.split(clean(text)):
        lines = [ln.strip() for ln in part.strip().split("\n")]
        body = "\n".join(ln for ln in lines if ln)
        if not body:
            continue
        found.append(SceneBreak() if _SCENE_BREAK.match(body) else Paragraph(spans(body), body))
    return found


def paragraphs(text: str) -> list[str]:
    """The paragraphs of `text` as the writer typed them (marks kept), scene breaks as `#`."""
    return ["#" if isinstance(b, SceneBreak) else b.raw for b in blocks(text)]


# Markdown ------------------------------------------------------------------------------------------

# Characters a Markdown reader (CommonMark, pandoc's Markdown with its extensions) may take as markup
# anywhere in a line, and those that only matter at a line's start.
_MD_ANYWHERE = re.compile(r"([\\`*_{}\[\]<>|~^$&@!\"])")
_MD_LINE_START = re.compile(r"^([#+=\->:%])", re.M)
_MD_NUMBERED = re.compile(r"^(\d+)([.)])", re.M)


def escape_markdown(text: str) -> str:
    """`text` escaped so that a Markdown reader shows exactly these characters."""
    escaped = _MD_ANYWHERE.sub(r"\\\1", text)
    escaped = _MD_NUMBERED.sub(r"\1\\\2", _MD_LINE_START.sub(r"\\\1", escaped))
    return escaped.replace("\n", "\\\n")  # a line break inside a paragraph: a hard break


def _marked(text: str, mark: str) -> str:
    """`text` between `mark`s, its outer spaces outside them (a mark never touches a space)."""
    inner = text.strip()
    if not inner:
        return text
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    return f"{lead}{mark}{inner}{mark}{trail}"


def markdown_block(block: Block) -> str:
    """One block as Markdown: the writer's marks as Markdown's, every other character escaped."""
    if isinstance(block, SceneBreak):
        return "\\* \\* \\*"
    out: list[str] = []
    run: list[Span] = []  # neighbouring spans of the same strength share one pair of `**`

    def flush() -> None:
        if run:
            text = "".join(
                _marked(escape_markdown(s.text), "*") if s.emphasis else escape_markdown(s.text) for s in run
            )
            out.append(_marked(text, "**") if run[0].strong else text)
            run.clear()

    for span in block.spans:
        if run and run[0].strong != span.strong:
            flush()
        run.append(span)
    flush()
    return "".join(out)


def markdown(text: str) -> str:
    """The writer's text as Markdown paragraphs (see `markdown_block`)."""
    return "\n\n".join(markdown_block(b) for b in blocks(text))


# pandoc's document tree ---------------------------------------------------------------------------


_PANDOC_TOKENS = re.compile(r"\n|[^\S\n]+|\S+")


def pandoc_text(text: str) -> list[dict[str, Any]]:
    """Plain text as pandoc inlines: words, spaces and line breaks, never markup."""
    return [
        {"t": "LineBreak"} if token == "\n" else {"t": "Space"} if token.isspace() else {"t": "Str", "c": token}
        for token in _PANDOC_TOKENS.findall(text)
    ]


def pandoc_inlines(paragraph: Paragraph) -> list[dict[str, Any]]:
    inlines: list[dict[str, Any]] = []
    for span in paragraph.spans:
        node = pandoc_text(span.text)
        if span.emphasis:
            node = [{"t": "Emph", "c": node}]
        if span.strong:
            node = [{"t": "Strong", "c": node}]
        inlines += node
    return inlines


def pandoc_blocks(text: str) -> list[dict[str, Any]]:
    """The writer's text as pandoc blocks: paragraphs and scene breaks (a centred `* * *`)."""
    return [
        {"t": "Para", "c": [{"t": "Str", "c": "* * *"}]}
        if isinstance(b, SceneBreak)
        else {"t": "Para", "c": pandoc_inlines(b)}
        for b in blocks(text)
    ]


# Typst's data and python-docx's runs ---------------------------------------------------------------


def typst(found: list[Block]) -> list[list[dict[str, Any]]]:
    """Paragraphs as lists of `{t, e, s}` (text, emphasis, strong) for a Typst template; a scene
    break is an empty list. Typst shows strings as text: nothing in them is markup."""
    return [
        [] if isinstance(b, SceneBreak) else [{"t": s.text, "e": s.emphasis, "s": s.strong} for s in b.spans]
        for b in found
    ]


def docx_runs(paragraph: Any, block: Block) -> None:
    """A python-docx paragraph's runs for `block`: italics and bold where marked; a scene break a `#`."""
    if isinstance(block, SceneBreak):
        paragraph.add_run("#")
        return
    for span in block.spans:
        run = paragraph.add_run(span.text)  # python-docx writes a `\n` as a line break
        run.italic = span.emphasis or None
        run.bold = span.strong or None
