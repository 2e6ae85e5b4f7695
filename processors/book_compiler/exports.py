"""A compiled version of a book as a file a writer takes away: EPUB, DOCX, PDF, Markdown, plain text.

Each format is made by a maintained tool, never by hand: EPUB 3 by pandoc (the binary from the
`pypandoc-binary` wheel, run as its own process in its sandbox mode), the manuscript DOCX by
`python-docx`, the print PDF by Typst (the `typst` wheel, its own fonts embedded). The writer's text
reaches each as data (`processors.rendering.prose`): a pandoc document tree, Typst JSON, python-docx runs.
`job` is what the sandbox runs: a render happens in a process of its own, within limits.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import msgspec
import pypandoc
import typst
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Pt

from processors.rendering import prose
from processors.rendering.render_process import LimitReached, address_space_mb

from .compiler import CompiledChapterText

TYPST_TEMPLATE = Path(__file__).with_name("book.typ")
# The pandoc document tree's version that the pinned pandoc reads (a unit test asks the binary).
PANDOC_API_VERSION = [1, 23, 1, 1]


@dataclass(frozen=True)
class Manuscript:
    """What every format is made from: one compiled version and the book's metadata at that compile."""

    book_id: str
    compiled_id: str  # the version's own id: the EPUB's unique identifier
    version: int
    title: str
    created_at: datetime
    chapters: list[CompiledChapterText]
    subtitle: str | None = None
    author: str | None = None
    language: str | None = None
    dedication: str | None = None
    front_matter: str | None = None
    back_matter: str | None = None
    contact: str | None = None

    @property
    def lang(self) -> str:
        return self.language or "en"

    @property
    def words(self) -> int:
        return sum(c.word_count for c in self.chapters)

    def heading(self, chapter: CompiledChapterText) -> str:
        """`Chapter 3: The Ledger`, or `Chapter 3` when the title says no more."""
        plain = f"Chapter {chapter.chapter}"
        title = prose.line(chapter.title)
        return plain if title in ("", plain) else f"{plain}: {title}"


# Markdown and text -----------------------------------------------------------------------------


def markdown(book: Manuscript) -> bytes:
    """Markdown that shows the writer's text as typed: only their own marks are Markdown's."""
    line = prose.escape_markdown
    parts = [f"# {line(prose.line(book.title))}"]
    if book.subtitle:
        parts.append(f"*{line(prose.line(book.subtitle))}*")
    if book.author:
        parts.append(f"by {line(prose.line(book.author))}")
    if book.dedication:
        parts += ["## Dedication", prose.markdown(book.dedication)]
    if book.front_matter:
        parts.append(prose.markdown(book.front_matter))
    for chapter in book.chapters:
        parts += [f"## {line(book.heading(chapter))}", prose.markdown(chapter.text)]
    if book.back_matter:
        parts.append(prose.markdown(book.back_matter))
    return ("\n\n".join(p for p in parts if p) + "\n").encode()


def plain_text(book: Manuscript) -> bytes:
    """The text as the writer typed it, paragraphs apart, scene breaks as `#`."""
    parts = [prose.line(book.title)]
    for field in (book.subtitle, f"by {book.author}" if book.author else None):
        if field:
            parts.append(prose.line(field))
    for text in (book.dedication, book.front_matter):
        if text:
            parts += prose.paragraphs(text)
    for chapter in book.chapters:
        parts += [book.heading(chapter), *prose.paragraphs(chapter.text)]
    if book.back_matter:
        parts += prose.paragraphs(book.back_matter)
    return ("\n\n".join(parts) + "\n").encode()


# EPUB ------------------------------------------------------------------------------------------


def _meta(text: str) -> dict[str, Any]:
    return {"t": "MetaInlines", "c": prose.pandoc_text(text)}


def _header(identifier: str, text: str, *, epub_type: str, numbered: bool = False) -> dict[str, Any]:
    classes = [] if numbered else ["unnumbered"]
    return {"t": "Header", "c": [1, [identifier, classes, [["epub:type", epub_type]]], prose.pandoc_text(text)]}


def pandoc_document(book: Manuscript) -> dict[str, Any]:
    """The book as pandoc's document tree: metadata and blocks, the writer's text as words, never markup."""
    meta: dict[str, Any] = {
        "title": _meta(prose.line(book.title)),
        "lang": _meta(prose.line(book.lang)),
        "date": _meta(book.created_at.date().isoformat()),
        "identifier": {
            "t": "MetaList",
            "c": [
                {
                    "t": "MetaMap",
                    "c": {
                        "scheme": _meta("UUID"),
                        "text": _meta(f"urn:uuid:{book.compiled_id}"),
                    },
                }
            ],
        },
    }
    if book.subtitle:
        meta["subtitle"] = _meta(prose.line(book.subtitle))
    if book.author:
        creator = {"role": _meta("author"), "text": _meta(prose.line(book.author))}
        meta["creator"] = {"t": "MetaList", "c": [{"t": "MetaMap", "c": creator}]}
    blocks: list[dict[str, Any]] = []
    if book.dedication:
        blocks += [_header("dedication", "Dedication", epub_type="dedication"), *prose.pandoc_blocks(book.dedication)]
    if book.front_matter:
        blocks += [_header("foreword", "Foreword", epub_type="foreword"), *prose.pandoc_blocks(book.front_matter)]
    for chapter in book.chapters:
        heading = _header(f"chapter-{chapter.chapter}", book.heading(chapter), epub_type="chapter", numbered=True)
        blocks += [heading, *prose.pandoc_blocks(chapter.text)]
    if book.back_matter:
        blocks += [_header("afterword", "Afterword", epub_type="afterword"), *prose.pandoc_blocks(book.back_matter)]
    return {"pandoc-api-version": PANDOC_API_VERSION, "meta": meta, "blocks": blocks}


def pandoc(document: dict[str, Any], to: str, *extra: str) -> bytes:
    """pandoc run on a document tree in its sandbox mode: it reads no file and fetches nothing."""
    memory_mb = address_space_mb()
    rts = ["+RTS", f"-M{memory_mb * 3 // 4}m", "-RTS"] if memory_mb else []
    done = subprocess.run(
        [pypandoc.get_pandoc_path(), *rts, "--sandbox", "--from=json", f"--to={to}", "--output=-", *extra],
        input=json.dumps(document).encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace")
        if "Heap exhausted" in detail or "out of memory" in detail:
            raise LimitReached("memory")
        if done.returncode < 0:
            raise LimitReached("time")
        raise RuntimeError(f"pandoc failed ({done.returncode}): {detail.strip()[-300:]}")
    return done.stdout


def epub(book: Manuscript) -> bytes:
    """EPUB 3 by pandoc: title page, navigation document, one file per chapter, metadata."""
    return pandoc(pandoc_document(book), "epub3", "--split-level=1", "--epub-title-page=true", "--toc", "--toc-depth=1")


# DOCX: standard manuscript format (Shunn) -------------------------------------------------------


def nearest_hundred(words: int) -> int:
    return max(100, round(words / 100.0) * 100)


def surname(author: str | None) -> str:
    return author.split()[-1] if author and author.split() else "Anonymous"


def _page_field(paragraph: object) -> None:
    """A PAGE field at the end of `paragraph`: Word fills in the page number."""
    run = paragraph.add_run()  # type: ignore[attr-defined]
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind is not None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._r.append(element)


def docx(book: Manuscript, *, font: str = "Times New Roman") -> bytes:
    """A manuscript an agent expects: 12 pt, double-spaced, 1-inch margins, running head
    `Surname / TITLE / page`, contact block and rounded word count on page one, each chapter on a
    new page, scene breaks as a centred `#`."""
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = font
    normal.font.size = Pt(12)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), font)
    normal.paragraph_format.line_spacing = 2.0
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.space_before = Pt(0)
    section = document.sections[0]
    section.page_width, section.page_height = Inches(8.5), Inches(11)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Inches(1))
    section.different_first_page_header_footer = True  # page one has the contact block instead
    head = section.header.paragraphs[0]
    head.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    head.add_run(f"{surname(book.author)} / {prose.line(book.title).upper()} / ")
    _page_field(head)

    def single(text: str, align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.LEFT) -> None:
        paragraph = document.add_paragraph(text)
        paragraph.alignment = align
        paragraph.paragraph_format.line_spacing = 1.0

    contact = [line for line in prose.clean(book.contact or book.author or "").splitlines() if line.strip()] or [
        "(contact)"
    ]
    table = document.add_table(rows=1, cols=2)
    left, right = table.rows[0].cells
    left.paragraphs[0].text = contact[0]
    for line in contact[1:]:
        left.add_paragraph(line)
    right.paragraphs[0].text = f"about {nearest_hundred(book.words):,} words"
    right.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for cell in (left, right):
        for paragraph in cell.paragraphs:
            paragraph.paragraph_format.line_spacing = 1.0
    for _ in range(8):  # the title sits about halfway down page one
        single("")
    single(prose.line(book.title).upper(), WD_ALIGN_PARAGRAPH.CENTER)
    if book.subtitle:
        single(prose.line(book.subtitle), WD_ALIGN_PARAGRAPH.CENTER)
    single(f"by {prose.line(book.author or '') or 'Anonymous'}", WD_ALIGN_PARAGRAPH.CENTER)
    if book.dedication:
        single("")
        for block in prose.blocks(book.dedication):
            paragraph = document.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.paragraph_format.line_spacing = 1.0
            prose.docx_runs(paragraph, block)

    def body(text: str) -> None:
        for block in prose.blocks(text):
            paragraph = document.add_paragraph()
            if isinstance(block, prose.SceneBreak):
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            else:
                paragraph.paragraph_format.first_line_indent = Inches(0.5)
            prose.docx_runs(paragraph, block)

    sections = (
        ([("Foreword", book.front_matter)] if book.front_matter else [])
        + [(book.heading(c), c.text) for c in book.chapters]
        + ([("Afterword", book.back_matter)] if book.back_matter else [])
    )
    for heading, text in sections:
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        title = document.add_paragraph(heading)
        title.alignment = WD_ALIGN_PARAGRAPH.CENTER
        body(text)
    single("")
    document.add_paragraph("END").alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.core_properties.title = prose.line(book.title)
    document.core_properties.author = prose.line(book.author or "")
    document.core_properties.language = book.lang
    out = BytesIO()
    document.save(out)
    return out.getvalue()


# PDF -------------------------------------------------------------------------------------------


def pdf(book: Manuscript) -> bytes:
    """A 6 x 9 in print PDF by Typst: title page, chapters on new pages, page numbers, fonts embedded."""
    content = {
        "title": prose.line(book.title),
        "subtitle": prose.line(book.subtitle or ""),
        "author": prose.line(book.author or ""),
        "lang": prose.line(book.lang),
        "dedication": prose.typst(prose.blocks(book.dedication or "")),
        "front": prose.typst(prose.blocks(book.front_matter or "")),
        "back": prose.typst(prose.blocks(book.back_matter or "")),
        "chapters": [
            {"heading": book.heading(c), "paragraphs": prose.typst(prose.blocks(c.text))} for c in book.chapters
        ],
    }
    # The text goes in as data, never as markup: nothing a writer types can change the layout.
    return bytes(typst.compile(str(TYPST_TEMPLATE), sys_inputs={"book": json.dumps(content)}))


Renderer = Callable[[Manuscript], bytes]
FORMATS: dict[str, tuple[str, str, Renderer]] = {
    # format: (content type, file extension, renderer)
    "epub": ("application/epub+zip", "epub", epub),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", docx),
    "pdf": ("application/pdf", "pdf", pdf),
    "md": ("text/markdown; charset=utf-8", "md", markdown),
    "txt": ("text/plain; charset=utf-8", "txt", plain_text),
}
ALIASES = {"markdown": "md", "text": "txt"}


class Job(msgspec.Struct, frozen=True):
    """What the sandbox is handed: the format and the manuscript."""

    format: str
    book: dict[str, Any]


def job(payload: bytes) -> bytes:
    """The sandbox's entry: a `Job` in, the file out. Every string is cleaned before any tool sees it."""
    task = msgspec.json.decode(payload, type=Job)
    book = msgspec.convert(prose.clean_all(task.book), Manuscript)
    return FORMATS[task.format][2](book)


def job_of(fmt: str, book: Manuscript) -> bytes:
    """The bytes `job` takes for rendering `book` as `fmt`."""
    return msgspec.json.encode(Job(format=fmt, book=msgspec.to_builtins(book)))


JOB = f"{__name__}:job"
