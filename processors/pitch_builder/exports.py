"""A pitch as the one page an agent reads: PDF (Typst), DOCX (python-docx) or Markdown."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import typst
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Inches, Pt

TEMPLATE = Path(__file__).with_name("pitch.typ")
_MARKUP = re.compile(r"\*\*|(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)")


def _plain(text: str) -> str:
    """The sections' light Markdown (bold names, list dashes) as plain text."""
    return _MARKUP.sub("", text)


def _facts(pitch: dict[str, Any]) -> str:
    facts = [str(pitch[k]) for k in ("genre", "tone") if pitch.get(k)]
    manuscript = pitch.get("manuscript") or {}
    if isinstance(manuscript.get("words"), int):
        facts.append(f"{manuscript['words']:,} words")
    return " · ".join(facts)


def _sections(pitch: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found = [(s["heading"], [_plain(p.strip()) for p in re.split(r"\n+", s["body"]) if p.strip()]) for s in pitch.get("sections", [])]
    if pitch.get("author_bio"):
        heading = f"About the author: {pitch['author_name']}" if pitch.get("author_name") else "About the author"
        found.append((heading, [p.strip() for p in str(pitch["author_bio"]).split("\n") if p.strip()]))
    return found


def pdf(pitch: dict[str, Any]) -> bytes:
    content = {
        "title": pitch["title"], "logline": pitch["logline"], "facts": _facts(pitch), "author": pitch.get("author_name", ""),
        "sections": [{"heading": h, "paragraphs": ps} for h, ps in _sections(pitch)],
    }  # fmt: skip
    return bytes(typst.compile(str(TEMPLATE), sys_inputs={"pitch": json.dumps(content)}))


def docx(pitch: dict[str, Any]) -> bytes:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = "Times New Roman", Pt(11)
    section = document.sections[0]
    section.page_width, section.page_height = Inches(8.5), Inches(11)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Inches(1))
    document.add_heading(pitch["title"], level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    if facts := _facts(pitch):
        document.add_paragraph(facts).alignment = WD_ALIGN_PARAGRAPH.CENTER
    logline = document.add_paragraph()
    logline.alignment = WD_ALIGN_PARAGRAPH.CENTER
    logline.add_run(pitch["logline"]).italic = True
    for heading, paragraphs in _sections(pitch):
        document.add_heading(heading, level=2)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    document.core_properties.title = pitch["title"]
    document.core_properties.author = pitch.get("author_name", "")
    out = BytesIO()
    document.save(out)
    return out.getvalue()


def markdown(pitch: dict[str, Any]) -> bytes:
    return str(pitch["one_pager"]).encode()


FORMATS: dict[str, tuple[str, str, Callable[[dict[str, Any]], bytes]]] = {
    "pdf": ("application/pdf", "pdf", pdf),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", docx),
    "md": ("text/markdown; charset=utf-8", "md", markdown),
}
