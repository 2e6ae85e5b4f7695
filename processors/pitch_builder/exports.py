"""A pitch as the one page an agent reads: PDF (Typst), DOCX (python-docx) or Markdown.

A section's body is in the writer's marks (`processors.rendering.prose`), a line a paragraph; every other
field is plain text. Each reaches its renderer as data. `job` is what the sandbox runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import msgspec
import typst
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Inches, Pt

from processors.rendering import prose

from .builder import one_pager, section_text

TEMPLATE = Path(__file__).with_name("pitch.typ")


def _facts(pitch: dict[str, Any]) -> str:
    facts = [prose.line(str(pitch[k])) for k in ("genre", "tone") if pitch.get(k)]
    manuscript = pitch.get("manuscript") or {}
    if isinstance(manuscript.get("words"), int):
        facts.append(f"{manuscript['words']:,} words")
    return " · ".join(facts)


def _sections(pitch: dict[str, Any]) -> list[tuple[str, list[prose.Block]]]:
    """Each section's heading and blocks, the author's bio last."""
    found = [
        (prose.line(str(s["heading"])), prose.blocks(section_text(str(s["body"])))) for s in pitch.get("sections", [])
    ]
    if pitch.get("author_bio"):
        name = prose.line(str(pitch.get("author_name") or ""))
        found.append(
            (f"About the author: {name}" if name else "About the author", prose.blocks(str(pitch["author_bio"])))
        )
    return found


def pdf(pitch: dict[str, Any]) -> bytes:
    content = {
        "title": prose.line(str(pitch["title"])),
        "logline": prose.line(str(pitch["logline"])),
        "facts": _facts(pitch),
        "author": prose.line(str(pitch.get("author_name") or "")),
        "sections": [{"heading": h, "paragraphs": prose.typst(blocks)} for h, blocks in _sections(pitch)],
    }
    # The text goes in as data, never as markup: nothing a writer types can change the layout.
    return bytes(typst.compile(str(TEMPLATE), sys_inputs={"pitch": json.dumps(content)}))


def docx(pitch: dict[str, Any]) -> bytes:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = "Times New Roman", Pt(11)
    section = document.sections[0]
    section.page_width, section.page_height = Inches(8.5), Inches(11)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Inches(1))
    title = prose.line(str(pitch["title"]))
    document.add_heading(title, level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    if facts := _facts(pitch):
        document.add_paragraph(facts).alignment = WD_ALIGN_PARAGRAPH.CENTER
    logline = document.add_paragraph()
    logline.alignment = WD_ALIGN_PARAGRAPH.CENTER
    logline.add_run(prose.line(str(pitch["logline"]))).italic = True
    for heading, blocks in _sections(pitch):
        document.add_heading(heading, level=2)
        for block in blocks:
            paragraph = document.add_paragraph()
            if isinstance(block, prose.SceneBreak):
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            prose.docx_runs(paragraph, block)
    document.core_properties.title = title
    document.core_properties.author = prose.line(str(pitch.get("author_name") or ""))
    out = BytesIO()
    document.save(out)
    return out.getvalue()


def markdown(pitch: dict[str, Any]) -> bytes:
    """The one-pager, made afresh from the pitch (the notes' words escaped)."""
    manuscript = pitch.get("manuscript") or {}
    words = manuscript.get("words") if isinstance(manuscript.get("words"), int) else None
    return one_pager(pitch, list(pitch.get("sections") or []), words).encode()


FORMATS: dict[str, tuple[str, str, Callable[[dict[str, Any]], bytes]]] = {
    "pdf": ("application/pdf", "pdf", pdf),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", docx),
    "md": ("text/markdown; charset=utf-8", "md", markdown),
}


class Job(msgspec.Struct, frozen=True):
    """What the sandbox is handed: the format and the pitch's data."""

    format: str
    pitch: dict[str, Any]


def job(payload: bytes) -> bytes:
    """The sandbox's entry: a `Job` in, the file out. Every string is cleaned before any tool sees it."""
    task = msgspec.json.decode(payload, type=Job)
    return FORMATS[task.format][2](prose.clean_all(task.pitch))


def job_of(fmt: str, pitch: dict[str, Any]) -> bytes:
    return msgspec.json.encode(Job(format=fmt, pitch=pitch))


JOB = f"{__name__}:job"
